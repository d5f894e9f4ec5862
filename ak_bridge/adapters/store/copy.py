"""Move a store's whole history to another store: a pilot's SQLite file to PostgreSQL.

Rows keep their ids, the audit chain keeps its hashes, and the copy is verified after: the
same count in every table, the same chain head, and an intact chain on the target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ak_bridge.adapters.store.sql import SqlStore
from ak_bridge.service.ports import StoreError

# Parents before children (foreign keys); each table's key orders its rows.
TABLES = (
    ("messages", "id"),
    ("deliveries", "id"),
    ("attempts", "id"),
    ("certificates", "issuing_country, issuing_body, reference_no"),
    ("audit", "seq"),
    ("breakers", "partner"),
    ("heartbeats", "worker"),
    ("signed_receipts", "message_id"),
    ("operators", "name"),
)
BATCH = 2000


def copy_store(
    source: SqlStore, target: SqlStore, progress: Callable[[str, int], None] = lambda t, n: None
) -> dict[str, int]:
    """Copy every row; refuse a target that already holds messages. Rows copied per table."""
    if target.find_messages(limit=1):
        raise StoreError("the target database already holds messages: copy into an empty one")
    copied: dict[str, int] = {}
    for table, key in TABLES:
        offset = 0
        while True:
            with source.read() as tx:
                rows = tx.rows(
                    f"SELECT * FROM {table} ORDER BY {key} LIMIT ? OFFSET ?", [BATCH, offset]
                )
            if not rows:
                break
            insert_rows(target, table, rows)
            offset += len(rows)
            progress(table, offset)
        copied[table] = offset
    reset = getattr(target, "reset_sequences", None)
    if reset is not None:
        reset()
    return copied


def insert_rows(target: SqlStore, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows as they are (ids and hashes kept), many per statement, in one transaction.

    For moving a history (``db copy``) and building one (``scripts/bench_growth.py``); never
    for the service's own writes, which go through the Store port's invariants.
    """
    if table not in {t for t, _ in TABLES}:
        raise StoreError(f"unknown table {table!r}")
    if not rows:
        return
    cols = list(rows[0])
    one = f"({', '.join('?' for _ in cols)})"
    per = max(1, 4000 // len(cols))  # well under SQLite's and PostgreSQL's parameter limits
    with target.write() as tx:
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            tx.run(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES {', '.join(one for _ in chunk)}",
                [row[c] for row in chunk for c in cols],
            )


def verify_copy(source: SqlStore, target: SqlStore) -> list[str]:
    """What differs between the two stores (empty: the copy is whole)."""
    problems = []
    for table, _ in TABLES:
        counts = []
        for store in (source, target):
            with store.read() as tx:
                counts.append(tx.rows(f"SELECT count(*) AS n FROM {table}")[0]["n"])
        if counts[0] != counts[1]:
            problems.append(f"{table}: {counts[0]} rows in the source, {counts[1]} copied")
    heads = [s.audit_row() for s in (source, target)]
    if (heads[0] or {}).get("hash") != (heads[1] or {}).get("hash"):
        problems.append("the audit chain's head differs")
    problems += [f"target audit: {p}" for p in target.verify_audit()]
    return problems
