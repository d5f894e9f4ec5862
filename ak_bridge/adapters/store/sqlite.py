"""SQLite persistence: the embedded one-box default, a single file and no server.

Rules (stack-notes.md section 6): WAL and ``synchronous=NORMAL`` on every connection, one
connection per thread, every write inside one short ``BEGIN IMMEDIATE`` transaction (a
deferred BEGIN fails under concurrent writers). ``BEGIN IMMEDIATE`` makes write transactions
exclusive, so the locks the shared queries ask for (``Tx.lock``) are already held. The file
is created readable by its owner only: it holds every certificate exchanged.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from ak_bridge.adapters.store import migrations
from ak_bridge.adapters.store.console import ConsoleReads
from ak_bridge.adapters.store.operators import OperatorStore
from ak_bridge.adapters.store.reads import SqlReads
from ak_bridge.adapters.store.receipts import SqlReceipts
from ak_bridge.adapters.store.report_reads import ReportReads
from ak_bridge.adapters.store.sql import SqlStore
from ak_bridge.adapters.store.wakeup import FifoWaker
from ak_bridge.service.ports import DuplicateKey, StoreError


class _Tx:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, list(params))
        if cur.description is None:
            return []
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.db.execute(sql, list(params)).rowcount

    def lock(self, key: str) -> None:
        """BEGIN IMMEDIATE holds the one write lock already."""

    def locked_rows(self, key: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.rows(sql, params)

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        """The rest of sqlite-utils (``table``, ``execute``), for SQLite-only tools."""
        return getattr(self.db, name)


def _translated(exc: sqlite3.Error) -> StoreError:
    if isinstance(exc, sqlite3.IntegrityError) and "messages.business_key" in str(exc):
        return DuplicateKey(str(exc))
    return StoreError(f"{type(exc).__name__}: {exc}")


class SqliteStore(ConsoleReads, OperatorStore, SqlReceipts, SqlReads, ReportReads, SqlStore):
    """All reads and writes of the bridge's SQLite file; one connection per thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._waker = FifoWaker(self.path)
        # SQLite takes one writer at a time; a thread that finds the file locked sleeps in
        # SQLite's busy handler (1, 2, 5 ... 100 ms steps) and is not woken when the lock
        # is free. Threads of one process queue here instead and go the moment the one
        # before commits; only other processes still meet the busy handler.
        self._writer = threading.RLock()  # re-entrant: a nested write fails in SQLite, as before

    def _announced(self) -> None:
        self._waker.signal()

    def wait_for_work(self, timeout: float) -> bool:
        return self._waker.wait(timeout)

    @classmethod
    def open(cls, path: Path | str, *, check: bool = True) -> SqliteStore:
        """Open the file, creating a fresh one at the latest schema; refuse an old schema."""
        store = cls(path)
        store.path.parent.mkdir(parents=True, exist_ok=True)
        if not store.path.exists():
            os.close(os.open(store.path, os.O_CREAT | os.O_WRONLY, 0o600))
        store._ready(check)
        return store

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # per connection, every time
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            db = sqlite_utils.Database(conn)
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @contextmanager
    def write(self) -> Iterator[_Tx]:
        """One short immediate transaction: all of it is stored, or none of it."""
        with self._writer:
            with self._transaction() as tx:
                yield tx

    @contextmanager
    def _transaction(self) -> Iterator[_Tx]:
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _translated(exc) from exc
        try:
            yield _Tx(db)
        except sqlite3.Error as exc:
            db.conn.rollback()
            raise _translated(exc) from exc
        except BaseException:
            db.conn.rollback()
            raise
        else:
            try:
                db.conn.commit()
            except sqlite3.Error as exc:
                raise _translated(exc) from exc

    @contextmanager
    def read(self) -> Iterator[_Tx]:
        try:
            yield _Tx(self.db)
        except sqlite3.Error as exc:
            raise _translated(exc) from exc

    # -- schema -------------------------------------------------------------------------

    def schema_version(self) -> int:
        names = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" in names:
            row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
            return int(row[0] or 0)
        return 1 if "messages" in names else 0

    def upgrade(self, now: datetime) -> list[int]:
        """Apply the missing migrations, each in its own transaction; the versions applied.

        An empty file gets every step in one transaction (no process sees half a schema).
        """
        done: list[int] = []
        db = self.db
        while True:
            db.execute("BEGIN IMMEDIATE")
            try:
                current = self.schema_version()
                steps = migrations.pending(current)
                for step in steps if current == 0 else steps[:1]:
                    for statement in step.sqlite.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    if step.version >= 2:
                        db.execute(
                            "INSERT INTO schema_version (version, name, applied_at)"
                            " VALUES (?, ?, ?)",
                            [step.version, step.name, now.astimezone(UTC).isoformat()],
                        )
                    done.append(step.version)
            except BaseException:
                db.conn.rollback()
                raise
            db.conn.commit()
            if not steps:
                return done

    def compact(self) -> None:
        """Give freed pages back to the file system (after a purge).

        In WAL mode VACUUM's result lands in the log first: the checkpoint is what makes the
        file itself smaller.
        """
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def backup(self, target: Path) -> None:
        """A consistent copy while the service runs (SQLite's online backup)."""
        with sqlite3.connect(str(target)) as out:
            self.db.conn.backup(out)
        os.chmod(target, 0o600)
