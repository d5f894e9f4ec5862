"""Read queries for the pilot report (``ops/reports.py``): raw rows over a period, per item.

Why rows and not sums: the report counts Box 4 per item (inside each customs response's
canonical JSON), pairs verification requests with their replies and buckets latencies, none
of which SQL shared by SQLite and PostgreSQL does well; a pilot's period is thousands of rows,
not millions. Every row names its lane: the CO's issuing country and, from the certificates
table, its importing country (``?`` when the bridge holds no such CO, e.g. a Form D).
Timestamps stay the stored text (ISO 8601 UTC), which sorts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ak_bridge.service.ports import iso

CLOCK_STARTED = "verification_request_received"  # the audit event of lifecycle_intake.py
CLOCK_DOCUMENTS = (
    "VERIFICATION_REQUEST",
    "VERIFICATION_EXTENSION",
    "VERIFICATION_REPLY",
    "VERIFICATION_DETERMINATION",
)

_LANE = (
    " coalesce(m.issuing_country, '?') AS issuing, coalesce(c.importing_country, '?') AS importing"
)
_CO_JOIN = (
    " LEFT JOIN certificates c ON c.issuing_country = m.issuing_country"
    " AND c.reference_no = m.reference_no AND c.issuing_body = m.issuing_body"
)


def _period(since: datetime | None, until: datetime) -> list[str]:
    return [iso(since) if since else "", iso(until)]


class ReportReads:
    """Mixed into a store beside ``SqlReads``; the store supplies ``_all`` and ``_one``."""

    _all: Callable[..., list[dict[str, Any]]]
    _one: Callable[..., dict[str, Any] | None]

    def report_first_activity(self) -> str | None:
        """When the audit trail starts (the first message received or refused), or None."""
        row = self._one("SELECT min(at) AS first FROM audit")
        return row["first"] if row else None

    def report_messages(self, since: datetime | None, until: datetime) -> list[dict[str, Any]]:
        """Messages received in the period: id, sender, document_type, lane, created_at."""
        return self._all(
            "SELECT m.id, m.sender, m.document_type, m.function, m.reference_no,"
            f"{_LANE}, m.created_at FROM messages m{_CO_JOIN}"
            " WHERE m.created_at >= ? AND m.created_at < ? ORDER BY m.created_at, m.id",
            _period(since, until),
        )

    def report_deliveries(self, since: datetime | None, until: datetime) -> list[dict[str, Any]]:
        """Deliveries created in the period with their lane and whether shadow mode held them
        (``shadow`` 1: an attempt ended ``held``, whatever the delivery's state is now)."""
        rows = self._all(
            "SELECT d.id, d.destination, d.status, d.last_failure_class, d.attempts,"
            f" d.created_at, d.delivered_at, m.document_type, m.sender,{_LANE},"
            " CASE WHEN EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id"
            " AND a.outcome = 'held') THEN 1 ELSE 0 END AS shadow"
            f" FROM deliveries d JOIN messages m ON m.id = d.message_id{_CO_JOIN}"
            " WHERE d.created_at >= ? AND d.created_at < ? ORDER BY d.id",
            _period(since, until),
        )
        for row in rows:
            row["shadow"] = bool(row["shadow"])
        return rows

    def report_refusals(self, since: datetime | None, until: datetime) -> list[dict[str, Any]]:
        """Refusals at the door in the period: at, partner, code, box, audit seq."""
        return self._all(
            "SELECT seq, at, coalesce(partner, '(unknown)') AS partner, code, box FROM audit"
            " WHERE event = 'rejected' AND at >= ? AND at < ? ORDER BY seq",
            _period(since, until),
        )

    def report_documents(
        self, document_types: Sequence[str], since: datetime | None, until: datetime
    ) -> list[dict[str, Any]]:
        """Messages of these types received in the period, with their canonical JSON (None
        once purged) and business key: what Box 4 and verification figures are read from."""
        marks = ", ".join("?" for _ in document_types)
        return self._all(
            "SELECT m.id, m.document_type, m.reference_no, m.business_key, m.canonical,"
            f"{_LANE}, m.created_at FROM messages m{_CO_JOIN}"
            f" WHERE m.document_type IN ({marks}) AND m.created_at >= ? AND m.created_at < ?"
            " ORDER BY m.created_at, m.id",
            [*document_types, *_period(since, until)],
        )

    def report_reply_clocks(self) -> list[dict[str, Any]]:
        """What moves the reply clock of COs still VERIFICATION_REQUESTED, oldest first: their
        verification requests, extensions, replies and determinations (canonical JSON, None
        once purged; a CO asked again has answered requests), and the acknowledgements audited
        as ``verification_request_received`` (``clock_started``: the audit's time; the
        business key names the request acknowledged)."""
        return self._all(
            "SELECT m.id, m.document_type, m.business_key, m.canonical, m.created_at,"
            " c.issuing_country AS issuing, c.reference_no, c.importing_country AS importing,"
            " c.issuing_body, a.at AS clock_started FROM certificates c JOIN messages m"
            " ON m.issuing_country = c.issuing_country AND m.reference_no = c.reference_no"
            " AND m.issuing_body = c.issuing_body"
            " LEFT JOIN audit a ON a.message_id = m.id AND a.event = ?"
            " WHERE c.state = 'VERIFICATION_REQUESTED' AND (a.seq IS NOT NULL"
            f" OR m.document_type IN ({', '.join('?' for _ in CLOCK_DOCUMENTS)}))"
            " ORDER BY m.created_at, m.id",
            [CLOCK_STARTED, *CLOCK_DOCUMENTS],
        )
