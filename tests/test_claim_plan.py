"""The worker's claim reads due deliveries in order from an index, never by sorting them.

With one statement that OR-ed expired claims into the due rows, every claim sorted the whole
backlog (SQLite: USE TEMP B-TREE FOR ORDER BY): a 100,000 backlog drained at 12 msg/s.
"""

from __future__ import annotations

from pathlib import Path

from ak_bridge.adapters.store import open_database


def test_the_due_claim_uses_the_claimable_index_without_a_sort(tmp_path: Path) -> None:
    store = open_database(str(tmp_path / "plan.db"))
    sql = store._claim_sql(  # type: ignore[attr-defined]
        "d.status IN ('pending', 'waiting_retry') AND d.next_attempt_at <= ?", "ID-SKA"
    )
    inner = sql[sql.index("SELECT d.id") : sql.rindex(")")]
    with store.read() as tx:  # type: ignore[attr-defined]
        plan = " | ".join(
            r["detail"] for r in tx.rows(f"EXPLAIN QUERY PLAN {inner}", ["2030", "ID-SKA", 4])
        )
    assert "USING INDEX deliveries_claimable" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_the_workers_certificate_statements_use_an_index(tmp_path: Path) -> None:
    """A delivered document moves its CO (ISSUED -> TRANSMITTED) inside the worker's write
    transaction, and a message naming no issuing body looks the CO up by its number: both
    must find it by an index. Without one, every delivery scanned the certificates table
    while holding SQLite's write lock (1,000,000 stored: 6 accepts a second)."""
    import sqlite3
    from datetime import timedelta

    from store_rows import T0, cert_row, delivery_row, message_row

    from ak_bridge.core.model import DeliveryStatus
    from ak_bridge.service.delivery import Deliverer
    from ak_bridge.service.ports import AuditEvent

    store = open_database(str(tmp_path / "plan.db"))
    store.accept(
        message_row("M1"),
        [delivery_row("M1")],
        [AuditEvent(T0, "received", "M1", "KR-KCS")],
        [cert_row("KR-2026-000001", last_message_id="M1", order_key="KR|KR-2026-000001")],
    )
    deliverer = Deliverer(None, store, {}, lambda: T0, lambda: 0.5, "w1")  # type: ignore[arg-type]
    change = deliverer._after_delivery(store.message_header("M1"))  # noqa: SLF001
    assert change is not None and change.issuing_body == ""  # the whole key, not None
    [row] = store.claim_due(T0, T0 + timedelta(seconds=30), "w1", 1)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)  # type: ignore[attr-defined]
    store.finish_attempt(
        row.id,
        "w1",
        started_at=T0,
        duration_ms=1.0,
        outcome=DeliveryStatus.DELIVERED,
        now=T0,
        change=change,
    )
    store.certificates_numbered("KR", "KR-2026-000001")
    store.db.conn.set_trace_callback(None)  # type: ignore[attr-defined]
    raw = sqlite3.connect(str(tmp_path / "plan.db"))
    on_certificates = [s for s in statements if "certificates" in s and "EXPLAIN" not in s]
    assert len(on_certificates) == 2, statements
    for sql in on_certificates:
        plan = " | ".join(r[3] for r in raw.execute(f"EXPLAIN QUERY PLAN {sql}"))
        # the number itself is searched, not every CO of the country (an index on the
        # country alone, such as certificates_replaced_by, reads them all)
        assert "SCAN certificates" not in plan and "reference_no=?" in plan, (sql, plan)
