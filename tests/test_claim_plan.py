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
