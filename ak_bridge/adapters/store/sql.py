"""The store's queries, written once for SQLite and PostgreSQL.

Each backend supplies a connection per thread, its transactions and a ``lock(key)``; the
queries here are plain SQL that both dialects run (``?`` placeholders, ``ON CONFLICT``,
``RETURNING``). How each invariant holds with several writers on several hosts:

- **Audit chain never forks.** The head is read and the next row written under the ``audit``
  lock, and the audit row is always the last statement of its transaction, so the lock is
  held only until commit and a holder never waits for anything else (no deadlock). SQLite:
  ``BEGIN IMMEDIATE`` already makes every write transaction exclusive. PostgreSQL:
  ``pg_advisory_xact_lock``. ``seq`` is the head's plus one, not a sequence, so a rolled
  back transaction leaves no gap that ``verify`` would report as cut rows.
- **Partner concurrency limit and the single half-open probe.** Counting and claiming, and
  reading and writing a breaker, happen under a per-partner lock in one transaction.
- **A CO's state changes are checked and written atomically.** ``accept`` takes the CO's lock,
  re-reads its state and refuses with ``StateChanged`` if it moved since the decision.
- **Idempotency.** ``messages.business_key`` is UNIQUE; the loser of a race gets
  ``DuplicateKey`` and answers with the winner's receipt, on whichever instance.
- **Claims are never taken twice, and expire.** One ``UPDATE … RETURNING`` over a subquery
  (PostgreSQL adds ``FOR UPDATE SKIP LOCKED``); an expired claim is due again, and a worker
  whose claim was taken over records nothing.
- **Order per certificate.** A delivery is not claimable while an earlier delivery of the
  same certificate to the same partner is unfinished, in any snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from ak_bridge.adapters.store import migrations
from ak_bridge.adapters.store.rows import from_row, from_rows, to_row
from ak_bridge.core.audit import GENESIS, audit_hash
from ak_bridge.core.model import DeliveryStatus
from ak_bridge.core.ordering import (
    FINAL_STATES,
    LEGAL_HOLD,
    OVERTAKING,
    REQUEUABLE,
    sql_list,
)
from ak_bridge.core.retry import Breaker
from ak_bridge.service.ports import (
    AuditEvent,
    SchemaMismatch,
    StateChanged,
    from_iso,
    iso,
)
from ak_bridge.service.records import (
    AuditRecord,
    CertificateChange,
    CertificateRecord,
    DeliveryRecord,
    MessageRecord,
)

FINALS_SQL = sql_list(FINAL_STATES)
OVERTAKING_SQL = sql_list(OVERTAKING)
HOLD_SQL = sql_list(LEGAL_HOLD)
_CERTIFICATE_KEY = ("issuing_country", "issuing_body", "reference_no")
AUDIT_COLUMNS = ("at", "event", "message_id", "partner", "code", "box", "actor", "detail")


class Tx(Protocol):
    """One open transaction, as the queries below see it."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a statement; its rows as mappings (empty for none)."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""

    def lock(self, key: str) -> None:
        """Hold ``key`` until the transaction ends (no-op where writes are serialised)."""

    def locked_rows(self, key: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """``lock(key)`` then ``rows(sql)``, read after the lock is held (PostgreSQL: one
        round trip, the statement's snapshot is taken once the lock is granted)."""

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many parameter rows (PostgreSQL: pipelined, one round trip)."""


class SqlStore:
    """The ``Store`` port over SQL; subclasses open connections and transactions."""

    claim_lock_clause = ""  # PostgreSQL: "FOR UPDATE SKIP LOCKED"

    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction: all of it is stored, or none of it."""
        raise NotImplementedError

    def read(self) -> AbstractContextManager[Tx]:
        """A read (no lock is taken for long)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.read() as tx:
            return tx.rows(sql, params)

    def _announce(self, tx: Tx) -> None:
        """Inside the transaction that made deliveries due (PostgreSQL: NOTIFY at commit)."""

    def _announced(self) -> None:
        """After it committed (SQLite: wake the local workers)."""

    def _ready(self, check: bool) -> None:
        """An empty database gets the whole schema; another release's is refused (``check``)."""
        if self.schema_version() == 0:
            self.upgrade(datetime.now(UTC))
        if check and (why := migrations.refusal(self.schema_version())):
            raise SchemaMismatch(why)

    def ping(self) -> None:
        with self.write() as tx:
            tx.rows("SELECT 1 AS one")

    # -- audit -------------------------------------------------------------------------

    def _append_audit(self, tx: Tx, events: Sequence[AuditEvent]) -> None:
        """Chain events to the head; callers make this the last statement of the transaction."""
        if not events:
            return
        head = tx.locked_rows("audit", "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (head[0]["seq"], head[0]["hash"]) if head else (0, GENESIS)
        rows: list[list[Any]] = []
        for event in events:
            row: dict[str, Any] = {
                "at": iso(event.at),
                "event": event.event,
                "message_id": event.message_id,
                "partner": event.partner,
                "code": event.code,
                "box": event.box,
                "actor": event.actor,
                "detail": event.detail,
            }
            seq += 1
            row["seq"], row["prev_hash"] = seq, prev
            row["hash"] = prev = audit_hash(prev, row)
            rows.append(list(row.values()))
        columns = (*AUDIT_COLUMNS, "seq", "prev_hash", "hash")
        tx.run_many(
            f"INSERT INTO audit ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            rows,
        )

    def audit(self, event: AuditEvent) -> None:
        with self.write() as tx:
            self._append_audit(tx, [event])

    def audit_rows(self, after: int = 0, batch: int = 5000) -> Iterator[AuditRecord]:
        """Every audit row in order, read in batches (a long chain never sits in memory)."""
        while True:
            rows = self._all(
                "SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", [after, batch]
            )
            yield from from_rows(AuditRecord, rows)
            if len(rows) < batch:
                return
            after = rows[-1]["seq"]

    def verify_audit(self) -> list[str]:
        problems: list[str] = []
        prev, expected_seq = GENESIS, None
        for row in self.audit_rows():
            if expected_seq is not None and row.seq != expected_seq:
                problems.append(f"seq {expected_seq}..{row.seq - 1}: rows missing")
            if row.prev_hash != prev:
                problems.append(f"seq {row.seq}: does not follow the row before it")
            if audit_hash(row.prev_hash, row) != row.hash:
                problems.append(f"seq {row.seq}: content does not match its hash")
            prev, expected_seq = row.hash, row.seq + 1
        return problems

    def audit_row(self, seq: int | None = None) -> AuditRecord | None:
        if seq is None:
            row = self._one("SELECT * FROM audit ORDER BY seq DESC LIMIT 1")
        else:
            row = self._one("SELECT * FROM audit WHERE seq = ?", [seq])
        return from_row(AuditRecord, row) if row else None

    def audit_for(self, message_id: str) -> list[AuditRecord]:
        return from_rows(
            AuditRecord,
            self._all("SELECT * FROM audit WHERE message_id = ? ORDER BY seq", [message_id]),
        )

    def audit_events(self, event: str | None = None, limit: int = 1000) -> list[AuditRecord]:
        if event:
            rows = self._all(
                "SELECT * FROM audit WHERE event = ? ORDER BY seq DESC LIMIT ?", [event, limit]
            )
        else:
            rows = self._all("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", [limit])
        return from_rows(AuditRecord, rows)

    # -- accepting ----------------------------------------------------------------------

    def message_by_key(self, business_key: str) -> MessageRecord | None:
        row = self._one("SELECT * FROM messages WHERE business_key = ?", [business_key])
        return from_row(MessageRecord, row) if row else None

    def accept(
        self,
        message: MessageRecord,
        deliveries: Sequence[DeliveryRecord],
        events: Sequence[AuditEvent],
        certificates: Sequence[CertificateRecord] = (),
        expect: Mapping[tuple[str, str, str], str | None] | None = None,
    ) -> None:
        """Message, deliveries, CO states and audit in one transaction, or nothing.

        ``expect`` maps (issuing country, issuing body, reference) to the state the caller
        decided on (None: no such CO yet); it is re-read under the CO's lock, so a CO never
        moves from a state it is no longer in (``StateChanged``). A taken business key raises
        ``DuplicateKey`` (the adapter translates its driver's error).
        """
        with self.write() as tx:
            for country, body, reference in sorted(expect or {}):  # one lock order: no deadlock
                tx.lock(f"co:{country}|{body}|{reference}")
            for (country, body, reference), wanted in (expect or {}).items():
                row = tx.rows(
                    "SELECT state FROM certificates WHERE issuing_country = ?"
                    " AND issuing_body = ? AND reference_no = ?",
                    [country, body, reference],
                )
                if (row[0]["state"] if row else None) != wanted:
                    about = f"{country}/{body}/{reference}" if body else f"{country}/{reference}"
                    raise StateChanged(f"{about}: {row[0]['state'] if row else None}")
            self._insert(tx, "messages", to_row(message))
            for d in deliveries:
                self._insert(tx, "deliveries", to_row(d, without=("id",) if not d.id else ()))
            for c in certificates:
                self._upsert_certificate(tx, to_row(c))
            if deliveries:
                self._announce(tx)
            self._append_audit(tx, events)
        if deliveries:
            self._announced()

    @staticmethod
    def _insert(tx: Tx, table: str, row: Mapping[str, Any]) -> None:
        cols = list(row)
        tx.run(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [row[c] for c in cols],
        )

    @staticmethod
    def _upsert_certificate(tx: Tx, cert: Mapping[str, Any]) -> None:
        cols = list(cert)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in _CERTIFICATE_KEY)
        tx.run(
            f"INSERT INTO certificates ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            f" ON CONFLICT({', '.join(_CERTIFICATE_KEY)}) DO UPDATE SET {updates}",
            [cert[c] for c in cols],
        )

    def predecessors(
        self, issuing_country: str, reference_no: str, issuing_body: str = ""
    ) -> list[str]:
        out: list[str] = []
        todo = [reference_no]
        while todo:
            rows = self._all(
                "SELECT reference_no FROM certificates WHERE issuing_country = ?"
                " AND issuing_body = ? AND replaced_by = ?",
                [issuing_country, issuing_body, todo.pop()],
            )
            for r in rows:
                if r["reference_no"] not in out:
                    out.append(r["reference_no"])
                    todo.append(r["reference_no"])
        return out

    def certificate(
        self, issuing_country: str, reference_no: str, issuing_body: str = ""
    ) -> CertificateRecord | None:
        row = self._one(
            "SELECT * FROM certificates WHERE issuing_country = ? AND issuing_body = ?"
            " AND reference_no = ?",
            [issuing_country, issuing_body, reference_no],
        )
        return from_row(CertificateRecord, row) if row else None

    def certificates_numbered(self, issuing_country: str, reference_no: str) -> list[str]:
        """The issuing bodies that have a CO with this number ('' : none named), sorted."""
        rows = self._all(
            "SELECT issuing_body FROM certificates WHERE issuing_country = ? AND reference_no = ?"
            " ORDER BY issuing_body",
            [issuing_country, reference_no],
        )
        return [r["issuing_body"] for r in rows]

    # -- delivering ---------------------------------------------------------------------

    def claim_due(
        self,
        now: datetime,
        claim_until: datetime,
        worker: str,
        limit: int,
        destination: str | None = None,
        max_in_flight: int | None = None,
    ) -> list[DeliveryRecord]:
        """Claim due deliveries in one statement, oldest first, never out of order.

        Due: pending or waiting and its time has come, or in flight with an expired claim
        (its worker died). Not claimable while an earlier delivery of the same certificate
        to the same destination is unfinished. ``max_in_flight`` (with ``destination``) is
        counted under the partner's lock in the same transaction as the claim.
        """
        if limit <= 0:
            return []
        n = iso(now)
        rows: list[dict[str, Any]] = []
        with self.write() as tx:
            if max_in_flight is not None and destination is not None:
                tx.lock(f"partner:{destination}")
                busy = self._in_flight(tx, destination, now)
                limit = min(limit, max_in_flight - busy)
                if limit <= 0:
                    return []
            # Two statements, not one with an OR: the due one then matches the partial index
            # deliveries_claimable (destination, next_attempt_at, id), which hands the rows
            # over in claim order; with the OR every claim sorted the whole backlog (a
            # 100,000 backlog drained at 12 msg/s). Expired claims are few and go first.
            for due, due_params in (
                ("d.status = 'in_flight' AND d.claimed_until < ?", [n]),
                ("d.status IN ('pending', 'waiting_retry') AND d.next_attempt_at <= ?", [n]),
            ):
                if len(rows) >= limit:
                    break
                params: list[Any] = [iso(claim_until), worker, n, n, *due_params]
                params += [destination] if destination else []
                rows += tx.rows(self._claim_sql(due, destination), [*params, limit - len(rows)])
        return sorted(from_rows(DeliveryRecord, rows), key=lambda r: r.id)

    def _claim_sql(self, due: str, destination: str | None) -> str:
        """Claim the oldest ``due`` rows whose certificate has nothing unfinished before them."""
        where_dest = "AND d.destination = ?" if destination else ""
        return f"""
        UPDATE deliveries SET status = 'in_flight', claimed_until = ?,
               claimed_by = ?, updated_at = ?,
               first_attempt_at = COALESCE(first_attempt_at, ?)
        WHERE id IN (
            SELECT d.id FROM deliveries d
            WHERE {due} {where_dest}
              AND NOT EXISTS (
                  SELECT 1 FROM deliveries e
                  WHERE e.order_key = d.order_key AND e.destination = d.destination
                    AND e.id < d.id AND e.status NOT IN ({FINALS_SQL}))
            ORDER BY d.next_attempt_at, d.id
            LIMIT ? {self.claim_lock_clause})
        RETURNING *
        """

    @staticmethod
    def _in_flight(tx: Tx, destination: str, now: datetime) -> int:
        rows = tx.rows(
            "SELECT count(*) AS n FROM deliveries WHERE destination = ?"
            " AND status = 'in_flight' AND claimed_until >= ?",
            [destination, iso(now)],
        )
        return int(rows[0]["n"])

    def in_flight_count(self, destination: str, now: datetime) -> int:
        with self.read() as tx:
            return self._in_flight(tx, destination, now)

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
        change: CertificateChange | None = None,
    ) -> bool:
        """Record one attempt and move the delivery on, in one transaction.

        ``change``: what the core decided a delivered document does to its CO (ISSUED ->
        TRANSMITTED), written in the same transaction if still true. Returns False (and
        records nothing) when this worker no longer holds the claim.
        """
        delivered = outcome is DeliveryStatus.DELIVERED
        with self.write() as tx:
            number = self._take_back_claim(tx, delivery_id, worker)
            if number is None:
                return False
            tx.run(
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
            tx.run(
                "UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
                " claimed_until = NULL, claimed_by = NULL, last_error = ?,"
                " last_failure_class = ?, last_http_status = ?, updated_at = ?,"
                " delivered_at = ? WHERE id = ?",
                [
                    str(outcome),
                    number,
                    iso(next_attempt_at or now),
                    None if delivered else detail,
                    failure_class,
                    http_status,
                    iso(now),
                    iso(now) if delivered else None,
                    delivery_id,
                ],
            )
            if change is not None and delivered:
                self._change_certificate(tx, change, now)
            self._append_audit(tx, [event] if event else [])
        return True

    @staticmethod
    def _take_back_claim(tx: Tx, delivery_id: int, worker: str) -> int | None:
        """The attempt's number if ``worker`` still holds the claim (row locked till commit)."""
        rows = tx.rows(
            "UPDATE deliveries SET claimed_by = claimed_by WHERE id = ? AND claimed_by = ?"
            " AND status = 'in_flight' RETURNING attempts",
            [delivery_id, worker],
        )
        return rows[0]["attempts"] + 1 if rows else None

    @staticmethod
    def _change_certificate(tx: Tx, change: CertificateChange, now: datetime) -> None:
        """Write a decision of the core if the CO is still where it was decided on."""
        latest = " AND last_message_id = ?" if change.last_message_id else ""
        body = change.issuing_body
        if body is None and not change.last_message_id:
            body = ""  # nothing else pins the CO: the one that names no body
        tx.run(
            "UPDATE certificates SET state = ?, updated_at = ?"
            " WHERE issuing_country = ? AND reference_no = ?"
            f"{'' if body is None else ' AND issuing_body = ?'} AND state = ?{latest}",
            [
                change.to_state,
                iso(now),
                change.issuing_country,
                change.reference_no,
                *([] if body is None else [body]),
                change.from_state,
                *([change.last_message_id] if change.last_message_id else []),
            ],
        )

    def requeue(
        self, delivery_ids: Sequence[int], now: datetime, actor: str, reason: str
    ) -> list[int]:
        """Make failed, waiting or held deliveries due now, with a fresh retry budget.

        The message id stays, so the partner can still de-duplicate. Purged deliveries (no
        document left) and dead ones that a later message about the same CO to the same
        partner already went past are left alone. The workers are woken, as after accept.
        """
        return self._transition(
            delivery_ids,
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?,"
            " first_attempt_at = NULL, budget_start = attempts, updated_at = ?"
            " WHERE id = ? AND length(payload) > 0 AND NOT EXISTS ("
            " SELECT 1 FROM deliveries e WHERE e.order_key = deliveries.order_key"
            " AND e.destination = deliveries.destination AND e.id > deliveries.id"
            f" AND e.status IN ({OVERTAKING_SQL}))",
            2,
            now,
            "requeued",
            actor,
            reason,
            wakes=True,
        )

    def cancel(
        self, delivery_ids: Sequence[int], now: datetime, actor: str, reason: str
    ) -> list[int]:
        return self._transition(
            delivery_ids,
            "UPDATE deliveries SET status = 'cancelled', updated_at = ? WHERE id = ?",
            1,
            now,
            "cancelled",
            actor,
            reason,
        )

    def _transition(
        self,
        delivery_ids: Sequence[int],
        sql: str,
        nows: int,
        now: datetime,
        event: str,
        actor: str,
        reason: str,
        wakes: bool = False,
    ) -> list[int]:
        changed: list[int] = []
        events: list[AuditEvent] = []
        with self.write() as tx:
            for did in delivery_ids:
                rows = tx.rows(
                    "SELECT message_id, status, destination FROM deliveries WHERE id = ?", [did]
                )
                if not rows or rows[0]["status"] not in REQUEUABLE:
                    continue
                if not tx.run(sql, [iso(now)] * nows + [did]):
                    continue
                row = rows[0]
                events.append(
                    AuditEvent(
                        now,
                        event,
                        row["message_id"],
                        row["destination"],
                        actor=actor,
                        detail=f"delivery {did} ({row['status']}): {reason}",
                    )
                )
                changed.append(did)
            if wakes and changed:
                self._announce(tx)
            self._append_audit(tx, events)
        if wakes and changed:
            self._announced()
        return changed

    def purgeable(self, before: datetime) -> list[str]:
        """Messages older than ``before`` whose deliveries are all finished, not yet purged.

        A CO under verification is on legal hold: its documents are evidence until the
        verification is answered, whatever their age.
        """
        rows = self._all(
            "SELECT m.id FROM messages m WHERE m.created_at < ? AND m.purged_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id"
            f" AND d.status NOT IN ({FINALS_SQL}))"
            " AND NOT EXISTS (SELECT 1 FROM certificates c"
            " WHERE c.issuing_country = m.issuing_country AND c.reference_no = m.reference_no"
            f" AND c.issuing_body = m.issuing_body AND c.state IN ({HOLD_SQL}))"
            " ORDER BY m.created_at",
            [iso(before)],
        )
        return [r["id"] for r in rows]

    def purge(self, message_ids: Sequence[str], now: datetime, actor: str) -> int:
        """Drop the documents of old messages, keep their metadata, attempts and audit."""
        events = []
        with self.write() as tx:
            for mid in message_ids:
                if tx.run(
                    "UPDATE messages SET raw = NULL, canonical = NULL, purged_at = ?"
                    " WHERE id = ? AND purged_at IS NULL",
                    [iso(now), mid],
                ):
                    tx.run("UPDATE deliveries SET payload = ? WHERE message_id = ?", [b"", mid])
                    events.append(
                        AuditEvent(
                            now,
                            "purged",
                            mid,
                            actor=actor,
                            detail="documents removed after the retention period",
                        )
                    )
            self._append_audit(tx, events)
        return len(events)

    # -- circuit breakers and heartbeats ------------------------------------------------

    @staticmethod
    def _breaker_of(rows: list[dict[str, Any]]) -> Breaker:
        if not rows:
            return Breaker()
        row = rows[0]
        return Breaker(row["failures"], from_iso(row["open_until"]) if row["open_until"] else None)

    def breaker(self, partner: str) -> Breaker:
        return self._breaker_of(
            self._all("SELECT failures, open_until FROM breakers WHERE partner = ?", [partner])
        )

    def update_breaker(
        self, partner: str, change: Callable[[Breaker], Breaker], now: datetime
    ) -> Breaker:
        """Read, change and write a partner's breaker under its lock (workers share it)."""
        with self.write() as tx:
            tx.lock(f"breaker:{partner}")
            old = self._breaker_of(
                tx.rows("SELECT failures, open_until FROM breakers WHERE partner = ?", [partner])
            )
            new = change(old)
            if new != old:
                tx.run(
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
        with self.write() as tx:
            tx.run(
                "INSERT INTO heartbeats (worker, at) VALUES (?, ?)"
                " ON CONFLICT(worker) DO UPDATE SET at = excluded.at",
                [worker, iso(now)],
            )

    def last_heartbeat(self) -> datetime | None:
        row = self._one("SELECT max(at) AS at FROM heartbeats")
        return from_iso(row["at"]) if row and row["at"] else None
