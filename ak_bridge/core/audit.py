"""The audit trail's hash chain: how a row is hashed and what the first row follows.

Each row's hash covers its content and the hash of the row before it, so an edited, deleted
or inserted row breaks the chain where it is; an anchor kept elsewhere catches a cut end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

GENESIS = "0" * 64
"""What the first row follows."""

CHAINED = ("at", "event", "message_id", "partner", "code", "box", "actor", "detail")


class _Readable(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...


def audit_hash(prev_hash: str, row: Mapping[str, Any] | _Readable) -> str:
    """The hash of an audit row: its content chained to the row before it."""
    body = {k: row.get(k) for k in CHAINED}
    text = prev_hash + json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
