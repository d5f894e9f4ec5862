"""PostgreSQL persistence: one shared database for two or more boxes, no leader.

Through psycopg 3 and its connection pool (the optional ``postgresql`` extra). The queries
are the shared ones (``sql.py``, ``reads.py``); what this adapter adds is how PostgreSQL keeps
their invariants with many writers: transactions at READ COMMITTED, ``Tx.lock`` as a
transaction-scoped advisory lock (``pg_advisory_xact_lock``), and claims that skip rows
another worker is claiming (``FOR UPDATE SKIP LOCKED``). The password never comes from
configuration text: libpq reads ``PGPASSWORD`` or ``~/.pgpass`` itself, or the settings pass
the one taken from the environment variable they name.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ak_bridge.adapters.store import migrations
from ak_bridge.adapters.store.console import ConsoleReads
from ak_bridge.adapters.store.operators import OperatorStore
from ak_bridge.adapters.store.reads import SqlReads
from ak_bridge.adapters.store.receipts import SqlReceipts
from ak_bridge.adapters.store.report_reads import ReportReads
from ak_bridge.adapters.store.sql import SqlStore, Tx
from ak_bridge.service.ports import DuplicateKey, StoreError

POOL_MAX = 8  # per process: gunicorn threads and delivery threads share it
CHANNEL = "ak_bridge_due"  # NOTIFY when deliveries became due; the workers LISTEN
_QUOTED_OR_MARK = re.compile(r"'[^']*'|\?")
# Read through pg_tables with the statement's snapshot: to_regclass goes through the catalog
# cache, which an advisory-lock wait does not refresh (two instances then both saw "empty").
_TABLES_SQL = (
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
    " AND tablename = 'schema_version') AS versioned,"
    " EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
    " AND tablename = 'messages') AS tables"
)


@cache
def _dialect(sql: str) -> str:
    """``?`` placeholders (outside quoted literals) become psycopg's ``%s``."""
    return _QUOTED_OR_MARK.sub(lambda m: "%s" if m.group() == "?" else m.group(), sql)


def _translated(exc: Exception) -> StoreError:
    if isinstance(exc, psycopg.errors.UniqueViolation):
        if exc.diag.constraint_name == "messages_business_key_key":
            return DuplicateKey(str(exc))
    return StoreError(f"{type(exc).__name__}: {exc}".strip())


class _Tx:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(_dialect(sql), list(params))  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description is not None else []

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(_dialect(sql), list(params)).rowcount  # type: ignore[arg-type]

    def lock(self, key: str) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])

    def locked_rows(self, key: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Lock and read in one round trip: pipelined, the read is a statement of its own, so
        at READ COMMITTED its snapshot is taken after the lock is granted (never a stale head;
        one statement with the lock in a CTE would read with a snapshot from before the wait)."""
        with self.conn.pipeline():
            self.lock(key)
            cur = self.conn.execute(_dialect(sql), list(params))  # type: ignore[arg-type]
        return list(cur.fetchall())

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.cursor().executemany(_dialect(sql), rows)  # type: ignore[arg-type]


class PostgresStore(ConsoleReads, OperatorStore, SqlReceipts, SqlReads, ReportReads, SqlStore):
    """All reads and writes of a shared PostgreSQL database, through a per-process pool."""

    claim_lock_clause = "FOR UPDATE OF d SKIP LOCKED"

    def __init__(self, url: str, password: str | None = None) -> None:
        self.url = url
        self._password = password
        self._pool: ConnectionPool | None = None
        self._pool_pid = 0
        self._guard = threading.Lock()
        self._listener: psycopg.Connection | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    @classmethod
    def open(cls, url: str, *, password: str | None = None, check: bool = True) -> PostgresStore:
        """Connect; create the schema in an empty database; refuse a schema of another release."""
        store = cls(url, password)
        store._ready(check)
        return store

    @property
    def pool(self) -> ConnectionPool:
        """The pool of this process; a forked child (gunicorn) opens its own."""
        with self._guard:
            if self._pool is None or self._pool_pid != os.getpid():
                kwargs: dict[str, Any] = {"row_factory": dict_row}
                if self._password is not None:
                    kwargs["password"] = self._password
                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=POOL_MAX, kwargs=kwargs, open=False
                )
                try:
                    self._pool.open(wait=True, timeout=10)
                except PoolTimeout as exc:
                    raise StoreError(f"cannot connect to {self.url}: {exc}") from exc
                self._pool_pid = os.getpid()
            return self._pool

    def _announce(self, tx: Tx) -> None:
        tx.rows("SELECT pg_notify(?, '')", [CHANNEL])  # delivered when the transaction commits

    def wait_for_work(self, timeout: float) -> bool:
        """LISTEN on a connection of its own (outside the pool) until a NOTIFY or the timeout."""
        try:
            if self._listener is None or self._listener.closed:
                self._listener = psycopg.connect(self.url, autocommit=True, **self._extra())
                self._listener.execute(f"LISTEN {CHANNEL}")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except psycopg.Error as exc:
            self._listener = None
            raise _translated(exc) from exc

    def close(self) -> None:
        """Connections go back to the pool after every transaction: nothing to release."""

    def shutdown(self) -> None:
        with self._guard:
            if self._pool is not None and self._pool_pid == os.getpid():
                self._pool.close()
            self._pool = None

    @contextmanager
    def write(self) -> Iterator[_Tx]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                yield _Tx(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            raise _translated(exc) from exc

    read = write  # a read is a short transaction too; it takes no lock

    # -- schema -------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self.read() as tx:
            found = tx.rows(_TABLES_SQL)[0]
            if found["versioned"]:
                return int(tx.rows("SELECT max(version) AS v FROM schema_version")[0]["v"] or 0)
            return 1 if found["tables"] else 0

    def upgrade(self, now: datetime) -> list[int]:
        """Apply the missing migrations; instances upgrading at once take turns.

        An empty database gets every step in one transaction, so an instance starting beside
        it never sees a half-made schema.
        """
        done: list[int] = []
        while True:
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('schema', 0))")
                current = self._version_in(conn)
                steps = migrations.pending(current)
                if not steps:
                    return done
                batch = steps if current == 0 else steps[:1]
                for step in batch:
                    conn.execute(step.postgres.encode())
                    if step.version >= 2:
                        conn.execute(
                            "INSERT INTO schema_version (version, name, applied_at)"
                            " VALUES (%s, %s, %s)",
                            [step.version, step.name, now.astimezone(UTC).isoformat()],
                        )
                    done.append(step.version)

    @staticmethod
    def _version_in(conn: psycopg.Connection) -> int:
        row = conn.execute(_TABLES_SQL).fetchone()
        assert row is not None
        if row["versioned"]:  # type: ignore[call-overload]
            got = conn.execute("SELECT max(version) AS v FROM schema_version").fetchone()
            return int(got["v"] or 0)  # type: ignore[index]
        return 1 if row["tables"] else 0  # type: ignore[call-overload]

    def compact(self) -> None:
        """VACUUM runs outside a transaction: on a connection of its own in autocommit."""
        try:
            with psycopg.connect(self.url, autocommit=True, **self._extra()) as conn:
                conn.execute("VACUUM (ANALYZE)")
        except psycopg.Error as exc:
            raise _translated(exc) from exc

    def _extra(self) -> dict[str, Any]:
        return {"password": self._password} if self._password is not None else {}

    def reset_sequences(self) -> None:
        """After rows were copied in with their ids, new ids continue after the largest."""
        with self.write() as tx:
            for table in ("deliveries", "attempts"):
                tx.rows(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
