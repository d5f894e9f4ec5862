"""Read queries of the operator tools (CLI and web console): search, refusals, series.

Kept apart from ``reads.py`` so the console's needs grow in one place. Plain SQL that both
SQLite and PostgreSQL run; timestamps are ISO text, so an hour bucket is its first 13
characters on both backends. The filters are named by ``ops/selection.py``'s ``Selection``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ak_bridge.adapters.store.rows import from_rows
from ak_bridge.service.ports import iso
from ak_bridge.service.records import AuditRecord

LISTING = (
    "SELECT d.id AS delivery_id, d.message_id, m.direction, m.sender, d.destination,"
    " d.channel, m.document_type, m.function, m.issuing_country, m.reference_no,"
    " m.partner_message_id, d.status, d.attempts, d.next_attempt_at, d.last_failure_class,"
    " d.last_error, m.created_at, d.updated_at, d.delivered_at"
    " FROM deliveries d JOIN messages m ON m.id = d.message_id"
)


def _in(column: str, values: Sequence[str], clauses: list[str], params: list[Any]) -> None:
    if values:
        clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params.extend(str(v) for v in values)


class ConsoleReads:
    """Mixed into a ``SqlStore``, which supplies ``_all``."""

    _all: Callable[..., list[dict[str, Any]]]

    def search_deliveries(
        self,
        *,
        partners: Sequence[str] = (),
        states: Sequence[str] = (),
        directions: Sequence[str] = (),
        document_types: Sequence[str] = (),
        failure_classes: Sequence[str] = (),
        reference_no: str | None = None,
        partner_message_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Deliveries with their message, newest last; a partner matches either side."""
        clauses: list[str] = []
        params: list[Any] = []
        if partners:
            marks = ", ".join("?" for _ in partners)
            clauses.append(f"(m.sender IN ({marks}) OR d.destination IN ({marks}))")
            params.extend([*partners, *partners])
        _in("d.status", states, clauses, params)
        _in("m.direction", directions, clauses, params)
        _in("m.document_type", document_types, clauses, params)
        _in("d.last_failure_class", failure_classes, clauses, params)
        for column, value in (
            ("m.reference_no", reference_no),
            ("m.partner_message_id", partner_message_id),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since:
            clauses.append("m.created_at >= ?")
            params.append(iso(since))
        if until:
            clauses.append("m.created_at < ?")
            params.append(iso(until))
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._all(
            f"{LISTING} {where} ORDER BY d.id LIMIT ? OFFSET ?", [*params, limit, offset]
        )

    def refusals(
        self,
        *,
        partners: Sequence[str] = (),
        codes: Sequence[str] = (),
        partner_message_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditRecord]:
        """Refusals at the door (audit rows ``rejected``), newest first.

        The partner's own message id is only in the row's detail (``<via> message <id>:``),
        as nothing else of a refused message is stored.
        """
        clauses, params = ["event = 'rejected'"], []
        _in("partner", partners, clauses, params)
        _in("code", codes, clauses, params)
        if partner_message_id:
            clauses.append("detail LIKE ?")
            params.append(f"% message {partner_message_id}:%")
        if since:
            clauses.append("at >= ?")
            params.append(iso(since))
        if until:
            clauses.append("at < ?")
            params.append(iso(until))
        rows = self._all(
            f"SELECT * FROM audit WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        )
        return from_rows(AuditRecord, rows)

    def finished_per_hour(self, since: datetime) -> list[dict[str, Any]]:
        """Deliveries that ended (delivered or dead) since then, per destination and hour."""
        return self._all(
            "SELECT destination, status, substr(updated_at, 1, 13) AS hour, count(*) AS n"
            " FROM deliveries WHERE status IN ('delivered', 'dead') AND updated_at >= ?"
            " GROUP BY destination, status, substr(updated_at, 1, 13)"
            " ORDER BY destination, hour",
            [iso(since)],
        )

    def known_partners(self) -> list[str]:
        """Every partner id seen on either side of a stored message."""
        rows = self._all(
            "SELECT sender AS p FROM messages UNION SELECT destination AS p FROM deliveries"
        )
        return sorted(r["p"] for r in rows if r["p"])

    def heartbeats(self) -> list[dict[str, Any]]:
        """Each worker's last heartbeat, for the dashboard's worker health."""
        return self._all("SELECT worker, at FROM heartbeats ORDER BY worker")
