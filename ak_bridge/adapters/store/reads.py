"""Read queries of the store: admin listings, health figures and the pilot report's counts.

Plain SQL that SQLite and PostgreSQL both run (every grouped column is named in GROUP BY);
the shapes returned are the port's, so no SQL is left in the operator tools or the web.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ak_bridge.adapters.store.rows import from_row, from_rows
from ak_bridge.service.ports import iso
from ak_bridge.service.records import (
    AttemptRecord,
    Backlog,
    DeliveryRecord,
    DeliveryView,
    MessageRecord,
)

_HEADER_COLUMNS = (
    "id, direction, sender, receiver, via, document_type, function,"
    " partner_message_id, issuing_country, reference_no, created_at, purged_at, issuing_body"
)


class SqlReads:
    """Mixed into a ``SqlStore``, which supplies ``_all`` and ``_one``."""

    _all: Callable[..., list[dict[str, Any]]]
    _one: Callable[..., dict[str, Any] | None]

    def message(self, message_id: str) -> MessageRecord | None:
        row = self._one("SELECT * FROM messages WHERE id = ?", [message_id])
        return from_row(MessageRecord, row) if row else None

    def message_header(self, message_id: str) -> MessageRecord | None:
        """A message without its documents: what a delivery attempt needs (its header), not
        the 13 kB of raw and canonical document that ``message`` reads on every attempt."""
        row = self._one(f"SELECT {_HEADER_COLUMNS} FROM messages WHERE id = ?", [message_id])
        return from_row(MessageRecord, row) if row else None

    def messages_for_certificate(
        self, issuing_country: str, reference_no: str, issuing_body: str = ""
    ) -> list[MessageRecord]:
        """A CO's messages, oldest first, without their documents (a timeline needs none)."""
        return from_rows(
            MessageRecord,
            self._all(
                f"SELECT {_HEADER_COLUMNS}"
                " FROM messages WHERE issuing_country = ? AND reference_no = ?"
                " AND issuing_body = ? ORDER BY created_at, id",
                [issuing_country, reference_no, issuing_body],
            ),
        )

    def deliveries_for(self, message_id: str) -> list[DeliveryRecord]:
        return from_rows(
            DeliveryRecord,
            self._all("SELECT * FROM deliveries WHERE message_id = ? ORDER BY id", [message_id]),
        )

    def delivery(self, delivery_id: int) -> DeliveryRecord | None:
        row = self._one("SELECT * FROM deliveries WHERE id = ?", [delivery_id])
        return from_row(DeliveryRecord, row) if row else None

    def attempts_for(self, delivery_id: int) -> list[AttemptRecord]:
        return from_rows(
            AttemptRecord,
            self._all(
                "SELECT * FROM attempts WHERE delivery_id = ? ORDER BY number", [delivery_id]
            ),
        )

    def find_deliveries(
        self,
        *,
        status: Sequence[str] | None = None,
        destination: str | None = None,
        failure_class: str | None = None,
        reference_no: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[DeliveryView]:
        """Deliveries joined with their message, for the admin CLI."""
        clauses: list[str] = []
        params: list[Any] = []
        if status:
            clauses.append(f"d.status IN ({', '.join('?' for _ in status)})")
            params.extend(str(s) for s in status)
        for column, value in (
            ("d.destination", destination),
            ("d.last_failure_class", failure_class),
            ("m.reference_no", reference_no),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since:
            clauses.append("m.created_at >= ?")
            params.append(iso(since))
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._all(
            "SELECT d.id AS delivery_id, d.message_id, m.sender, d.destination, d.channel,"
            " m.document_type, m.function, m.issuing_country, m.reference_no, d.status,"
            " d.attempts, d.next_attempt_at, d.last_failure_class, d.last_error,"
            " m.created_at, d.delivered_at"
            f" FROM deliveries d JOIN messages m ON m.id = d.message_id {where}"
            " ORDER BY d.id LIMIT ?",
            [*params, limit],
        )
        return from_rows(DeliveryView, rows)

    def find_messages(self, limit: int = 1000) -> list[MessageRecord]:
        """Messages oldest first, without their documents."""
        return from_rows(
            MessageRecord,
            self._all(
                f"SELECT {_HEADER_COLUMNS} FROM messages ORDER BY created_at, id LIMIT ?",
                [limit],
            ),
        )

    def counts_by_status(self) -> dict[str, int]:
        rows = self._all("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    def backlog(self) -> list[Backlog]:
        """Per destination: unfinished deliveries and the age of the oldest."""
        return from_rows(
            Backlog,
            self._all(
                "SELECT destination, count(*) AS backlog, min(created_at) AS oldest"
                " FROM deliveries WHERE status IN ('pending', 'waiting_retry', 'in_flight')"
                " GROUP BY destination ORDER BY destination"
            ),
        )

    # -- the pilot report's raw figures (ops/reports.py turns them into the report) -----

    def certificates_by_lane(self, since: datetime | None, until: datetime) -> list[dict]:
        """COs with a message in the period, per issuing/importing country and state."""
        return self._all(
            "SELECT c.issuing_country AS issuing, coalesce(c.importing_country, '?') AS importing,"
            " c.state, count(*) AS n FROM certificates c WHERE EXISTS (SELECT 1 FROM messages m"
            " WHERE m.issuing_country = c.issuing_country AND m.reference_no = c.reference_no"
            " AND m.issuing_body = c.issuing_body AND m.created_at >= ? AND m.created_at < ?)"
            " GROUP BY c.issuing_country, coalesce(c.importing_country, '?'), c.state",
            [iso(since) if since else "", iso(until)],
        )

    def decision_times(self, since: datetime | None, until: datetime) -> list[dict]:
        """Per CO issued in the period: when it was received and first answered by customs."""
        return self._all(
            "SELECT c.issuing_country AS issuing, c.importing_country AS importing,"
            " min(i.created_at) AS issued, min(r.created_at) AS decided"
            " FROM certificates c"
            " JOIN messages i ON i.issuing_country = c.issuing_country"
            "  AND i.reference_no = c.reference_no AND i.issuing_body = c.issuing_body"
            "  AND i.document_type = 'FORM_AK'"
            "  AND i.function IN ('9', '5')"
            " JOIN messages r ON r.issuing_country = c.issuing_country"
            "  AND r.reference_no = c.reference_no AND r.issuing_body = c.issuing_body"
            "  AND r.document_type = 'CUSTOMS_RESPONSE'"
            " WHERE i.created_at >= ? AND i.created_at < ?"
            " GROUP BY c.issuing_country, c.issuing_body, c.reference_no, c.importing_country",
            [iso(since) if since else "", iso(until)],
        )
