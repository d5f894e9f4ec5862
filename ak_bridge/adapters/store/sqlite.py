"""SQLite persistence: messages, deliveries, attempts, certificates and the audit trail.

Rules (stack-notes.md section 6): WAL and ``synchronous=NORMAL`` on every connection, one
connection per thread, every multi-step write inside one short ``BEGIN IMMEDIATE``
transaction (a deferred BEGIN fails under concurrent writers), claims by a single
``UPDATE … RETURNING``. Timestamps are passed in by the caller; this module never reads
the clock. The audit trail is append-only and hash-chained: each row carries the hash of
the one before, so an edited, deleted or inserted row is detectable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from ak_bridge.core.model import DeliveryStatus
from ak_bridge.core.retry import Breaker
from ak_bridge.service.ports import (
    FINAL_STATES,
    GENESIS,
    OPEN_OR_FAILED,
    AuditEvent,
    StateChanged,
    audit_hash,
    from_iso,
    iso,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    sender TEXT NOT NULL,
    receiver TEXT,
    via TEXT NOT NULL,
    document_type TEXT NOT NULL,
    function TEXT NOT NULL,
    partner_message_id TEXT,
    issuing_country TEXT,
    reference_no TEXT,
    business_key TEXT UNIQUE,
    content_hash TEXT,
    raw BLOB,
    canonical TEXT,
    created_at TEXT NOT NULL,
    purged_at TEXT
);
CREATE INDEX IF NOT EXISTS messages_ref ON messages(issuing_country, reference_no);
CREATE INDEX IF NOT EXISTS messages_created ON messages(created_at);

CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL REFERENCES messages(id),
    destination TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    budget_start INTEGER NOT NULL DEFAULT 0,
    order_key TEXT NOT NULL,
    payload BLOB NOT NULL,
    content_type TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    first_attempt_at TEXT,
    claimed_until TEXT,
    claimed_by TEXT,
    last_error TEXT,
    last_failure_class TEXT,
    last_http_status INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries(order_key, destination, id);
CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries(message_id);

CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
    number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    failure_class TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS attempts_delivery ON attempts(delivery_id);

CREATE TABLE IF NOT EXISTS certificates (
    issuing_country TEXT NOT NULL,
    reference_no TEXT NOT NULL,
    importing_country TEXT,
    state TEXT NOT NULL,
    issue_date TEXT,
    replaced_by TEXT,
    order_key TEXT,
    last_message_id TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (issuing_country, reference_no)
);

CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    message_id TEXT,
    partner TEXT,
    code TEXT,
    box TEXT,
    actor TEXT NOT NULL,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_message ON audit(message_id);

CREATE TABLE IF NOT EXISTS breakers (
    partner TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    open_until TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS heartbeats (
    worker TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
"""


class SqliteStore:
    """All reads and writes of the bridge's SQLite file; one connection per thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()

    @classmethod
    def open(cls, path: Path | str) -> SqliteStore:
        store = cls(path)
        store.path.parent.mkdir(parents=True, exist_ok=True)
        store.db.conn.executescript(SCHEMA)
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
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One short immediate transaction: all of it is stored, or none of it."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.rollback()
            raise
        else:
            db.conn.commit()

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    # -- audit -------------------------------------------------------------------------

    def _append_audit(self, db: sqlite_utils.Database, event: AuditEvent) -> None:
        last = db.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        prev = last[0] if last else GENESIS
        row = {
            "at": iso(event.at),
            "event": event.event,
            "message_id": event.message_id,
            "partner": event.partner,
            "code": event.code,
            "box": event.box,
            "actor": event.actor,
            "detail": event.detail,
        }
        row["prev_hash"] = prev
        row["hash"] = audit_hash(prev, row)
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        db.execute(f"INSERT INTO audit ({cols}) VALUES ({marks})", list(row.values()))

    def audit(self, event: AuditEvent) -> None:
        with self.write() as db:
            self._append_audit(db, event)

    def verify_audit(self) -> list[str]:
        """Walk the chain; return one line per break (empty: intact)."""
        problems: list[str] = []
        prev = GENESIS
        expected_seq = None
        for row in self._rows("SELECT * FROM audit ORDER BY seq"):
            if expected_seq is not None and row["seq"] != expected_seq:
                problems.append(f"seq {expected_seq}..{row['seq'] - 1}: rows missing")
            if row["prev_hash"] != prev:
                problems.append(f"seq {row['seq']}: does not follow the row before it")
            if audit_hash(row["prev_hash"], row) != row["hash"]:
                problems.append(f"seq {row['seq']}: content does not match its hash")
            prev = row["hash"]
            expected_seq = row["seq"] + 1
        return problems

    def audit_row(self, seq: int | None = None) -> dict | None:
        """One audit row by number, or the newest (the head of the chain)."""
        if seq is None:
            rows = self._rows("SELECT * FROM audit ORDER BY seq DESC LIMIT 1")
        else:
            rows = self._rows("SELECT * FROM audit WHERE seq = ?", [seq])
        return rows[0] if rows else None

    def audit_for(self, message_id: str) -> list[dict]:
        return self._rows("SELECT * FROM audit WHERE message_id = ? ORDER BY seq", [message_id])

    def audit_events(self, event: str | None = None, limit: int = 1000) -> list[dict]:
        if event:
            return self._rows(
                "SELECT * FROM audit WHERE event = ? ORDER BY seq DESC LIMIT ?", [event, limit]
            )
        return self._rows("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", [limit])

    # -- accepting ----------------------------------------------------------------------

    def message_by_key(self, business_key: str) -> dict | None:
        rows = self._rows("SELECT * FROM messages WHERE business_key = ?", [business_key])
        return rows[0] if rows else None

    def accept(
        self,
        message: Mapping[str, Any],
        deliveries: Sequence[Mapping[str, Any]],
        events: Sequence[AuditEvent],
        certificate: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        expect: Mapping[tuple[str, str], str | None] | None = None,
    ) -> None:
        """Store a received message, its deliveries, the CO states and the audit at once.

        ``certificate`` is one CO row to insert or update, or several (a replacement changes
        the old CO and creates the new one). ``expect`` maps (issuing country, reference)
        to the state the caller decided on, None for "no such CO yet": checked inside the
        transaction, so a CO's state never moves from a state it is no longer in
        (``StateChanged``). Raises ``sqlite3.IntegrityError`` when the business key is
        already taken (a race between two identical submissions); the caller re-reads and
        answers as a duplicate.
        """
        certificates = [certificate] if isinstance(certificate, Mapping) else certificate or []
        with self.write() as db:
            for (country, reference), wanted in (expect or {}).items():
                row = db.execute(
                    "SELECT state FROM certificates WHERE issuing_country = ? AND reference_no = ?",
                    [country, reference],
                ).fetchone()
                if (row[0] if row else None) != wanted:
                    raise StateChanged(f"{country}/{reference}: {row[0] if row else None}")
            db.table("messages").insert(dict(message))
            for d in deliveries:
                db.table("deliveries").insert(dict(d))
            for c in certificates:
                self._upsert_certificate(db, c)
            for e in events:
                self._append_audit(db, e)

    def _upsert_certificate(self, db: sqlite_utils.Database, cert: Mapping[str, Any]) -> None:
        cols = list(cert)
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in cols if c not in ("issuing_country", "reference_no")
        )
        db.execute(
            f"INSERT INTO certificates ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            f" ON CONFLICT(issuing_country, reference_no) DO UPDATE SET {updates}",
            [cert[c] for c in cols],
        )

    def _mark_transmitted(
        self,
        db: sqlite_utils.Database,
        issuing_country: str,
        reference_no: str,
        message_id: str,
        now: datetime,
    ) -> None:
        """ISSUED -> TRANSMITTED once the CO's own document reached the importing side.

        Only the CO's latest document counts, and only from ISSUED: delivering a cancel or
        a customs response never moves a CO back to TRANSMITTED.
        """
        db.execute(
            "UPDATE certificates SET state = 'TRANSMITTED', updated_at = ?"
            " WHERE issuing_country = ? AND reference_no = ? AND last_message_id = ?"
            " AND state = 'ISSUED'",
            [iso(now), issuing_country, reference_no, message_id],
        )

    def predecessors(self, issuing_country: str, reference_no: str) -> list[str]:
        """The references of the COs this one replaced, directly or through a chain."""
        out: list[str] = []
        todo = [reference_no]
        while todo:
            rows = self.db.execute(
                "SELECT reference_no FROM certificates WHERE issuing_country = ?"
                " AND replaced_by = ?",
                [issuing_country, todo.pop()],
            ).fetchall()
            for (ref,) in rows:
                if ref not in out:
                    out.append(ref)
                    todo.append(ref)
        return out

    def certificate(self, issuing_country: str, reference_no: str) -> dict | None:
        rows = self._rows(
            "SELECT * FROM certificates WHERE issuing_country = ? AND reference_no = ?",
            [issuing_country, reference_no],
        )
        return rows[0] if rows else None

    # -- delivering ---------------------------------------------------------------------

    def claim_due(
        self,
        now: datetime,
        claim_until: datetime,
        worker: str,
        limit: int,
        destination: str | None = None,
        max_in_flight: int | None = None,
    ) -> list[dict]:
        """Claim due deliveries in one statement, oldest first, never out of order.

        A delivery is due when it is pending or waiting and its time has come, or when an
        earlier claim expired (its worker died). It is not claimed while an earlier
        delivery of the same certificate to the same destination is unfinished.
        ``max_in_flight`` (with ``destination``): the partner's concurrency limit, counted
        in the same transaction as the claim, so two workers together never exceed it.
        """
        if limit <= 0:
            return []
        finals = ", ".join(f"'{s}'" for s in FINAL_STATES)
        where_dest = "AND d.destination = :dest" if destination else ""
        sql = f"""
        UPDATE deliveries SET status = 'in_flight', claimed_until = :until,
               claimed_by = :worker, updated_at = :now,
               first_attempt_at = COALESCE(first_attempt_at, :now)
        WHERE id IN (
            SELECT d.id FROM deliveries d
            WHERE ((d.status IN ('pending', 'waiting_retry') AND d.next_attempt_at <= :now)
                   OR (d.status = 'in_flight' AND d.claimed_until < :now))
              {where_dest}
              AND NOT EXISTS (
                  SELECT 1 FROM deliveries e
                  WHERE e.order_key = d.order_key AND e.destination = d.destination
                    AND e.id < d.id AND e.status NOT IN ({finals}))
            ORDER BY d.next_attempt_at, d.id
            LIMIT :limit)
        RETURNING *
        """
        params = {
            "now": iso(now),
            "until": iso(claim_until),
            "worker": worker,
            "limit": limit,
            "dest": destination,
        }
        with self.write() as db:
            if max_in_flight is not None and destination is not None:
                busy = db.execute(
                    "SELECT count(*) FROM deliveries WHERE destination = ?"
                    " AND status = 'in_flight' AND claimed_until >= ?",
                    [destination, iso(now)],
                ).fetchone()[0]
                params["limit"] = min(limit, max_in_flight - int(busy))
                if params["limit"] <= 0:
                    return []
            cur = db.execute(sql, params)
            cols = [c[0] for c in cur.description]
            rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        return sorted(rows, key=lambda r: r["id"])

    def in_flight_count(self, destination: str, now: datetime) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM deliveries WHERE destination = ? AND status = 'in_flight'"
            " AND claimed_until >= ?",
            [destination, iso(now)],
        ).fetchone()
        return int(row[0])

    def finish_attempt(
        self,
        delivery_id: int,
        worker: str,
        *,
        started_at: datetime,
        duration_ms: float,
        outcome: DeliveryStatus,
        now: datetime,
        next_attempt_at: datetime | None = None,
        http_status: int | None = None,
        failure_class: str | None = None,
        detail: str | None = None,
        event: AuditEvent | None = None,
        transmitted: tuple[str, str, str] | None = None,
    ) -> bool:
        """Record one attempt and move the delivery on, in one transaction.

        ``transmitted`` (issuing country, reference, message id): the CO's own document
        reached the importing side, so ISSUED becomes TRANSMITTED in the same transaction.
        Returns False (and records nothing) when this worker no longer holds the claim:
        it expired and another worker took the delivery over.
        """
        with self.write() as db:
            row = db.execute(
                "SELECT attempts, claimed_by, status FROM deliveries WHERE id = ?", [delivery_id]
            ).fetchone()
            if row is None or row[1] != worker or row[2] != DeliveryStatus.IN_FLIGHT:
                return False
            number = row[0] + 1
            db.execute(
                "INSERT INTO attempts (delivery_id, number, started_at, duration_ms, outcome,"
                " http_status, failure_class, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    delivery_id,
                    number,
                    iso(started_at),
                    duration_ms,
                    str(outcome),
                    http_status,
                    failure_class,
                    detail,
                ],
            )
            db.execute(
                "UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
                " claimed_until = NULL, claimed_by = NULL, last_error = ?,"
                " last_failure_class = ?, last_http_status = ?, updated_at = ?,"
                " delivered_at = ? WHERE id = ?",
                [
                    str(outcome),
                    number,
                    iso(next_attempt_at or now),
                    detail if outcome is not DeliveryStatus.DELIVERED else None,
                    failure_class,
                    http_status,
                    iso(now),
                    iso(now) if outcome is DeliveryStatus.DELIVERED else None,
                    delivery_id,
                ],
            )
            if event is not None:
                self._append_audit(db, event)
            if transmitted is not None and outcome is DeliveryStatus.DELIVERED:
                self._mark_transmitted(db, *transmitted, now)
        return True

    def requeue(
        self, delivery_ids: Sequence[int], now: datetime, actor: str, reason: str
    ) -> list[int]:
        """Make failed, waiting or held deliveries due now, with a fresh retry budget.

        The message id stays the same, so the partner can still de-duplicate. Delivered,
        in-flight and cancelled deliveries are left alone, and so are purged ones (their
        document is gone: sending it again would send nothing) and dead ones that a later
        message about the same CO to the same partner already went past (a cancel or a
        replacement that was delivered must not be overtaken by the CO it retired).
        Returns the ones changed.
        """
        return self._transition(
            delivery_ids,
            OPEN_OR_FAILED,
            "UPDATE deliveries SET status = 'pending', next_attempt_at = :now,"
            " first_attempt_at = NULL, budget_start = attempts, updated_at = :now"
            " WHERE id = :id AND length(payload) > 0 AND NOT EXISTS ("
            " SELECT 1 FROM deliveries e WHERE e.order_key = deliveries.order_key"
            " AND e.destination = deliveries.destination AND e.id > deliveries.id"
            " AND e.status IN ('delivered', 'in_flight'))",
            now,
            "requeued",
            actor,
            reason,
        )

    def cancel(
        self, delivery_ids: Sequence[int], now: datetime, actor: str, reason: str
    ) -> list[int]:
        """Stop deliveries that have not been delivered; they are kept, marked cancelled."""
        return self._transition(
            delivery_ids,
            OPEN_OR_FAILED,
            "UPDATE deliveries SET status = 'cancelled', updated_at = :now WHERE id = :id",
            now,
            "cancelled",
            actor,
            reason,
        )

    def _transition(
        self,
        delivery_ids: Sequence[int],
        allowed_from: Sequence[str],
        sql: str,
        now: datetime,
        event: str,
        actor: str,
        reason: str,
    ) -> list[int]:
        changed: list[int] = []
        with self.write() as db:
            for did in delivery_ids:
                row = db.execute(
                    "SELECT message_id, status, destination FROM deliveries WHERE id = ?", [did]
                ).fetchone()
                if row is None or row[1] not in allowed_from:
                    continue
                if not db.execute(sql, {"now": iso(now), "id": did}).rowcount:
                    continue
                self._append_audit(
                    db,
                    AuditEvent(
                        now,
                        event,
                        row[0],
                        row[2],
                        actor=actor,
                        detail=f"delivery {did} ({row[1]}): {reason}",
                    ),
                )
                changed.append(did)
        return changed

    def purgeable(self, before: datetime) -> list[str]:
        """Messages older than ``before`` whose deliveries are all finished, not yet purged.

        A CO under verification is on legal hold: its documents are evidence until the
        verification is answered, whatever their age.
        """
        finals = ", ".join(f"'{s}'" for s in FINAL_STATES)
        rows = self.db.execute(
            "SELECT m.id FROM messages m WHERE m.created_at < ? AND m.purged_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id"
            f" AND d.status NOT IN ({finals}))"
            " AND NOT EXISTS (SELECT 1 FROM certificates c"
            " WHERE c.issuing_country = m.issuing_country AND c.reference_no = m.reference_no"
            " AND c.state = 'VERIFICATION_REQUESTED')"
            " ORDER BY m.created_at",
            [iso(before)],
        ).fetchall()
        return [r[0] for r in rows]

    def purge(self, message_ids: Sequence[str], now: datetime, actor: str) -> int:
        """Drop the documents of old messages, keep their metadata, attempts and audit."""
        done = 0
        with self.write() as db:
            for mid in message_ids:
                cur = db.execute(
                    "UPDATE messages SET raw = NULL, canonical = NULL, purged_at = ?"
                    " WHERE id = ? AND purged_at IS NULL",
                    [iso(now), mid],
                )
                if cur.rowcount:
                    db.execute("UPDATE deliveries SET payload = x'' WHERE message_id = ?", [mid])
                    self._append_audit(
                        db,
                        AuditEvent(
                            now,
                            "purged",
                            mid,
                            actor=actor,
                            detail="documents removed after the retention period",
                        ),
                    )
                    done += 1
        return done

    # -- circuit breakers ---------------------------------------------------------------

    def breaker(self, partner: str) -> Breaker:
        row = self.db.execute(
            "SELECT failures, open_until FROM breakers WHERE partner = ?", [partner]
        ).fetchone()
        if row is None:
            return Breaker()
        return Breaker(row[0], from_iso(row[1]) if row[1] else None)

    def update_breaker(
        self, partner: str, change: Callable[[Breaker], Breaker], now: datetime
    ) -> Breaker:
        """Read, change and write a partner's breaker in one transaction (workers share it)."""
        with self.write() as db:
            row = db.execute(
                "SELECT failures, open_until FROM breakers WHERE partner = ?", [partner]
            ).fetchone()
            old = Breaker(row[0], from_iso(row[1]) if row[1] else None) if row else Breaker()
            new = change(old)
            if new != old:
                db.execute(
                    "INSERT INTO breakers (partner, failures, open_until, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(partner) DO UPDATE SET"
                    " failures = excluded.failures, open_until = excluded.open_until,"
                    " updated_at = excluded.updated_at",
                    [
                        partner,
                        new.failures,
                        iso(new.open_until) if new.open_until else None,
                        iso(now),
                    ],
                )
        return new

    def heartbeat(self, worker: str, now: datetime) -> None:
        with self.write() as db:
            db.execute(
                "INSERT INTO heartbeats (worker, at) VALUES (?, ?)"
                " ON CONFLICT(worker) DO UPDATE SET at = excluded.at",
                [worker, iso(now)],
            )

    # -- reading ------------------------------------------------------------------------

    def message(self, message_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM messages WHERE id = ?", [message_id])
        return rows[0] if rows else None

    def messages_for_certificate(self, issuing_country: str, reference_no: str) -> list[dict]:
        return self._rows(
            "SELECT id, sender, receiver, document_type, function, created_at FROM messages"
            " WHERE issuing_country = ? AND reference_no = ? ORDER BY created_at",
            [issuing_country, reference_no],
        )

    def deliveries_for(self, message_id: str) -> list[dict]:
        return self._rows("SELECT * FROM deliveries WHERE message_id = ? ORDER BY id", [message_id])

    def delivery(self, delivery_id: int) -> dict | None:
        rows = self._rows("SELECT * FROM deliveries WHERE id = ?", [delivery_id])
        return rows[0] if rows else None

    def attempts_for(self, delivery_id: int) -> list[dict]:
        return self._rows(
            "SELECT * FROM attempts WHERE delivery_id = ? ORDER BY number", [delivery_id]
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
    ) -> list[dict]:
        """Deliveries joined with their message, for the admin CLI."""
        clauses, params = [], []
        if status:
            clauses.append(f"d.status IN ({', '.join('?' for _ in status)})")
            params.extend(status)
        if destination:
            clauses.append("d.destination = ?")
            params.append(destination)
        if failure_class:
            clauses.append("d.last_failure_class = ?")
            params.append(failure_class)
        if reference_no:
            clauses.append("m.reference_no = ?")
            params.append(reference_no)
        if since:
            clauses.append("m.created_at >= ?")
            params.append(iso(since))
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        params.append(limit)
        return self._rows(
            "SELECT d.id AS delivery_id, d.message_id, m.sender, d.destination, d.channel,"
            " m.document_type, m.function, m.issuing_country, m.reference_no, d.status,"
            " d.attempts, d.next_attempt_at, d.last_failure_class, d.last_error,"
            " m.created_at, d.delivered_at"
            f" FROM deliveries d JOIN messages m ON m.id = d.message_id {where}"
            " ORDER BY d.id LIMIT ?",
            params,
        )

    def find_messages(self, limit: int = 1000) -> list[dict]:
        return self._rows(
            "SELECT id, direction, sender, receiver, via, document_type, function,"
            " issuing_country, reference_no, created_at FROM messages"
            " ORDER BY created_at LIMIT ?",
            [limit],
        )

    def counts_by_status(self) -> dict[str, int]:
        return {
            r["status"]: r["n"]
            for r in self._rows("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
        }

    def backlog(self) -> list[dict]:
        """Per destination: unfinished deliveries and the age of the oldest."""
        return self._rows(
            "SELECT destination, count(*) AS backlog, min(created_at) AS oldest"
            " FROM deliveries WHERE status IN ('pending', 'waiting_retry', 'in_flight')"
            " GROUP BY destination ORDER BY destination"
        )

    def last_heartbeat(self) -> datetime | None:
        row = self.db.execute("SELECT max(at) FROM heartbeats").fetchone()
        return from_iso(row[0]) if row and row[0] else None
