"""Move a store's whole history to another store: a pilot's SQLite file to PostgreSQL.

Rows keep their ids, the audit chain keeps its hashes, and the copy is verified after: the
same count in every table, the same chain head, and an intact chain on the target.
"""

from __future__ import annotations

from collections.abc import Callable

from ak_bridge.adapters.store.sql import SqlStore
from ak_bridge.service.ports import StoreError

# Parents before children (foreign keys); each table's key orders its rows.
TABLES = (
    ("messages", "id"),
    ("deliveries", "id"),
    ("attempts", "id"),
    ("certificates", "issuing_country, reference_no"),
    ("audit", "seq"),
    ("breakers", "partner"),
    ("heartbeats", "worker"),
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
            cols = list(rows[0])
            insert = (
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            )
            with target.write() as tx:
                for row in rows:
                    tx.run(insert, [row[c] for c in cols])
            offset += len(rows)
            progress(table, offset)
        copied[table] = offset
    reset = getattr(target, "reset_sequences", None)
    if reset is not None:
        reset()
    return copied


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
