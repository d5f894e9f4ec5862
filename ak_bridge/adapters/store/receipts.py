"""Signed receipts as first given: kept once per message, the same bytes on every resend.

Plain SQL both backends run. ``keep_receipt`` inserts unless one is there and answers with
what is stored, so two instances that signed the same receipt at once both return the
winner's bytes (a resend racing its original cannot yield two different signatures).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ak_bridge.service.ports import iso


class SqlReceipts:
    """Mixed into a ``SqlStore``, which supplies ``write`` and ``_one``."""

    _one: Callable[..., dict[str, Any] | None]
    write: Callable[..., Any]

    def keep_receipt(self, message_id: str, signed: bytes, now: datetime) -> bytes:
        """Store ``signed`` for ``message_id`` unless one is kept; return the kept bytes."""
        with self.write() as tx:
            tx.run(
                "INSERT INTO signed_receipts (message_id, signed, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT(message_id) DO NOTHING",
                [message_id, signed, iso(now)],
            )
            row = tx.rows("SELECT signed FROM signed_receipts WHERE message_id = ?", [message_id])
        return bytes(row[0]["signed"])

    def signed_receipt(self, message_id: str) -> bytes | None:
        """The signed receipt given for ``message_id``, if one was."""
        row = self._one("SELECT signed FROM signed_receipts WHERE message_id = ?", [message_id])
        return bytes(row["signed"]) if row else None
