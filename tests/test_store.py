"""The SQLite store on a real file: atomic accepts, ordered claims, races, the audit chain."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from store_rows import CLAIM, T0, at, cert_row, delivery_row, message_row  # noqa: E402

from ak_bridge.adapters.store.rows import to_row
from ak_bridge.adapters.store.sqlite import SqliteStore
from ak_bridge.core.audit import GENESIS, audit_hash
from ak_bridge.core.model import DeliveryStatus
from ak_bridge.service.ports import AuditEvent, DuplicateKey, StoreError, iso
from ak_bridge.service.records import DeliveryRecord


def put(
    store: SqliteStore, mid: str, *deliveries: DeliveryRecord, ref: str = "KR-2026-000001"
) -> list[int]:
    """Accept one message with its deliveries (default: one pending to ID-SKA); their ids."""
    store.accept(
        message_row(mid, ref=ref),
        list(deliveries) or [delivery_row(mid)],
        [AuditEvent(T0, "received", mid, "KR-KCS", detail="via soap")],
    )
    return [d["id"] for d in store.deliveries_for(mid)]


def raw_sql(path: Path, sql: str, params: Sequence = ()) -> list[sqlite3.Row]:
    """Plain sqlite3 on the file, as an intruder (or another process) would use it."""
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
    return rows


def count(path: Path, table: str) -> int:
    """Count rows through a separate, fresh connection: only committed data is visible."""
    return raw_sql(path, f"SELECT count(*) FROM {table}")[0][0]


def finish(store: SqliteStore, did: int, worker: str, outcome: DeliveryStatus, now: datetime, **kw):
    return store.finish_attempt(
        did, worker, started_at=now, duration_ms=12.5, outcome=outcome, now=now, **kw
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "ak_bridge.db"


@pytest.fixture
def store(path: Path):
    s = SqliteStore.open(path)
    yield s
    s.close()


# -- connection setup ----------------------------------------------------------------------


def test_fresh_connection_is_wal_with_synchronous_normal_and_foreign_keys(path: Path) -> None:
    SqliteStore.open(path).close()
    fresh = SqliteStore(path)  # a new object, a new connection
    assert fresh.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert fresh.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert fresh.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    fresh.close()
    with sqlite3.connect(path) as raw:  # WAL is persistent in the file
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_thread_gets_its_own_connection_with_synchronous_normal(store: SqliteStore) -> None:
    seen: dict[str, object] = {}

    def probe() -> None:
        seen["sync"] = store.db.execute("PRAGMA synchronous").fetchone()[0]
        seen["conn"] = store.db.conn
        store.close()

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    assert seen["sync"] == 1
    assert seen["conn"] is not store.db.conn


# -- accepting -----------------------------------------------------------------------------


def test_accept_stores_message_deliveries_certificate_and_audit(store: SqliteStore) -> None:
    store.accept(
        message_row("M1"),
        [delivery_row("M1"), delivery_row("M1", destination="VN-ECOSYS")],
        [AuditEvent(T0, "received", "M1", "KR-KCS"), AuditEvent(T0, "queued", "M1", "ID-SKA")],
        [cert_row("KR-2026-000001")],
    )
    assert store.message("M1")["business_key"] == "KR|KR-2026-000001|9|M1"
    assert [d["destination"] for d in store.deliveries_for("M1")] == ["ID-SKA", "VN-ECOSYS"]
    assert [e["event"] for e in store.audit_for("M1")] == ["received", "queued"]
    assert store.certificate("KR", "KR-2026-000001")["state"] == "ISSUED"
    assert count(store.path, "messages") == 1  # committed, visible to another connection


@pytest.mark.parametrize(
    "breakage",
    ["second delivery lacks its payload", "delivery of an unknown message", "audit lacks actor"],
)
def test_accept_stores_nothing_when_any_part_fails(store: SqliteStore, breakage: str) -> None:
    put(store, "M0")  # something already there, so "nothing" is measurable
    before = {t: count(store.path, t) for t in ("messages", "deliveries", "audit", "certificates")}
    bad = delivery_row("M1", destination="VN-ECOSYS")
    events = [AuditEvent(T0, "received", "M1", "KR-KCS")]
    if breakage == "second delivery lacks its payload":
        bad = dataclasses.replace(bad, payload=None)  # NOT NULL
    elif breakage == "delivery of an unknown message":
        bad = dataclasses.replace(bad, message_id="NO-SUCH-MESSAGE")  # FOREIGN KEY
    else:
        events.append(AuditEvent(T0, "queued", "M1", actor=None))  # NOT NULL, the last write
    cert = cert_row("X-1")

    with pytest.raises(StoreError) as err:  # the driver's error never leaves the adapter
        store.accept(message_row("M1"), [delivery_row("M1"), bad], events, [cert])
    assert not isinstance(err.value, DuplicateKey)
    assert "constraint failed" in str(err.value)

    after = {t: count(store.path, t) for t in ("messages", "deliveries", "audit", "certificates")}
    assert after == before
    assert store.message("M1") is None
    assert not store.db.conn.in_transaction
    put(store, "M2")  # the connection is still usable and the chain intact
    assert store.verify_audit() == []


def test_business_key_is_unique(store: SqliteStore) -> None:
    first = message_row("M1", key="KR|KR-2026-000001|9")
    store.accept(first, [delivery_row("M1")], [AuditEvent(T0, "received", "M1")])
    twin = message_row("M2", key="KR|KR-2026-000001|9")
    with pytest.raises(DuplicateKey):
        store.accept(twin, [delivery_row("M2")], [AuditEvent(T0, "received", "M2")])
    assert store.message_by_key("KR|KR-2026-000001|9")["id"] == "M1"
    assert store.message("M2") is None
    assert store.deliveries_for("M2") == [] and store.audit_for("M2") == []
    assert store.message_by_key("KR|KR-2026-000099|9") is None


def test_messages_without_business_key_do_not_collide(store: SqliteStore) -> None:
    for mid in ("OUT-1", "OUT-2"):
        store.accept(message_row(mid, key=None), [delivery_row(mid)], [])
    assert store.message("OUT-1") and store.message("OUT-2")


# -- claiming ------------------------------------------------------------------------------


def test_claim_due_claims_only_due_rows_oldest_first(store: SqliteStore) -> None:
    ids = {}
    for mid, next_at, status in [  # inserted so that id order is not time order
        ("NOW", at(0), "pending"),  # due exactly now
        ("FUTURE", at(10), "pending"),  # not yet due
        ("MIDDLE", at(-30), "pending"),
        ("OLDEST", at(-60), "waiting_retry"),
        ("DONE", at(-120), "delivered"),
        ("DEAD", at(-120), "dead"),
        ("GONE", at(-120), "cancelled"),
    ]:
        [ids[mid]] = put(store, mid, delivery_row(mid, next_at=next_at, status=status))

    first = store.claim_due(T0, T0 + CLAIM, "w1", limit=2)
    assert {r["id"] for r in first} == {ids["OLDEST"], ids["MIDDLE"]}
    for r in first:
        assert r["status"] == "in_flight" and r["claimed_by"] == "w1"
        assert r["claimed_until"] == T0 + CLAIM
        assert r["first_attempt_at"] == T0
        assert store.delivery(r["id"])["status"] == "in_flight"  # stored, not just returned

    assert [r["id"] for r in store.claim_due(T0, T0 + CLAIM, "w1", 10)] == [ids["NOW"]]
    assert store.claim_due(T0, T0 + CLAIM, "w2", 10) == []  # live claims are held
    assert store.delivery(ids["FUTURE"])["status"] == "pending"
    for final in ("DONE", "DEAD", "GONE"):
        assert store.delivery(ids[final])["claimed_by"] is None
    assert store.claim_due(at(10), at(10) + CLAIM, "w1", limit=0) == []
    assert [r["id"] for r in store.claim_due(at(10), at(10) + CLAIM, "w1", 10)] == [ids["FUTURE"]]


def test_claim_due_filters_by_destination(store: SqliteStore) -> None:
    [to_id] = put(store, "A", delivery_row("A", destination="ID-SKA"))
    [to_vn] = put(store, "B", delivery_row("B", destination="VN-ECOSYS"))
    got = store.claim_due(T0, T0 + CLAIM, "w", 10, destination="VN-ECOSYS")
    assert [r["id"] for r in got] == [to_vn]
    assert store.delivery(to_id)["status"] == "pending"
    assert store.in_flight_count("VN-ECOSYS", T0) == 1
    assert store.in_flight_count("ID-SKA", T0) == 0


@pytest.mark.parametrize("earlier_ends", [DeliveryStatus.DELIVERED, DeliveryStatus.DEAD])
def test_later_delivery_of_same_certificate_waits_for_the_earlier(
    store: SqliteStore, earlier_ends: DeliveryStatus
) -> None:
    key = "KR|KR-2026-000007"
    [first] = put(store, "ORIG", delivery_row("ORIG", order_key=key))
    [second] = put(store, "REPL", delivery_row("REPL", order_key=key))
    # other certificates and other destinations are not held back
    [other_key] = put(store, "OTHER", delivery_row("OTHER", order_key="KR|other"))
    [other_dest] = put(store, "VN", delivery_row("VN", order_key=key, destination="VN-ECOSYS"))

    got = store.claim_due(T0, T0 + CLAIM, "w", 10)
    assert {r["id"] for r in got} == {first, other_key, other_dest}

    # the earlier one fails and waits: the later one still may not overtake it
    assert finish(store, first, "w", DeliveryStatus.WAITING_RETRY, at(1), next_attempt_at=at(60))
    assert store.claim_due(at(2), at(2) + CLAIM, "w", 10) == []

    [again] = store.claim_due(at(60), at(60) + CLAIM, "w", 10)
    assert again["id"] == first
    assert store.claim_due(at(61), at(61) + CLAIM, "w", 10) == []  # in flight: still held
    assert finish(store, first, "w", earlier_ends, at(62))

    [later] = store.claim_due(at(63), at(63) + CLAIM, "w", 10)
    assert later["id"] == second


def test_expired_claim_is_taken_over_and_the_old_worker_loses_it(store: SqliteStore) -> None:
    [did] = put(store, "M1")
    [row] = store.claim_due(T0, T0 + CLAIM, "w1", 10)
    assert row["id"] == did
    assert store.claim_due(at(60), at(60) + CLAIM, "w2", 10) == []  # claim still live
    audit_rows = count(store.path, "audit")

    late = T0 + CLAIM + timedelta(seconds=1)
    [taken] = store.claim_due(late, late + CLAIM, "w2", 10)
    assert taken["id"] == did and taken["claimed_by"] == "w2"
    assert taken["first_attempt_at"] == T0  # kept from the first claim

    event = AuditEvent(late, "delivered", "M1", "ID-SKA")
    assert not finish(store, did, "w1", DeliveryStatus.DELIVERED, late, event=event)
    assert store.attempts_for(did) == []
    assert count(store.path, "audit") == audit_rows
    d = store.delivery(did)
    assert (d["status"], d["claimed_by"], d["attempts"]) == ("in_flight", "w2", 0)

    assert finish(store, did, "w2", DeliveryStatus.DELIVERED, late, event=event)
    assert [a["number"] for a in store.attempts_for(did)] == [1]


def _claim_all(
    store: SqliteStore, worker: str, start: threading.Barrier | None = None
) -> list[int]:
    if start is not None:
        start.wait()
    got: list[int] = []
    while rows := store.claim_due(T0, T0 + timedelta(hours=1), worker, 3):
        got += [r["id"] for r in rows]
        time.sleep(0.001)  # "send" them, as a real worker would, before claiming more
    return got


def _many_due(store: SqliteStore, n: int) -> set[int]:
    with store.write() as db:
        for i in range(n):
            db.table("messages").insert(to_row(message_row(f"M{i}")))
            db.table("deliveries").insert(
                to_row(delivery_row(f"M{i}", next_at=at(-i)), without=("id",))
            )
    return {r[0] for r in store.db.execute("SELECT id FROM deliveries").fetchall()}


def test_racing_threads_never_claim_the_same_row(path: Path) -> None:
    all_ids = _many_due(SqliteStore.open(path), 300)
    start = threading.Barrier(6)
    results: dict[str, list[int]] = {}

    def run(worker: str) -> None:
        own = SqliteStore(path)  # its own Store object, its own connection
        own.db.execute("SELECT 1")  # connect before the start, so all start together
        try:
            results[worker] = _claim_all(own, worker, start)
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(f"t{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    claimed = Counter(i for ids in results.values() for i in ids)
    assert len(results) == 6
    assert max(claimed.values()) == 1
    assert set(claimed) == all_ids
    assert sum(1 for ids in results.values() if ids) > 1  # it was a race, not a relay


CHILD = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from ak_bridge.adapters.store.rows import to_row
from ak_bridge.adapters.store.sqlite import SqliteStore
from ak_bridge.service.ports import Store
db, go, worker = sys.argv[1:]
store = SqliteStore(db)
store.db.execute("SELECT 1")
while not Path(go).exists():
    time.sleep(0.002)
now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
got = []
while rows := store.claim_due(now, now + timedelta(hours=1), worker, 3):
    got += [r["id"] for r in rows]
    time.sleep(0.001)
print(json.dumps(got))
"""


def test_racing_processes_never_claim_the_same_row(path: Path, tmp_path: Path) -> None:
    all_ids = _many_due(SqliteStore.open(path), 300)
    go = tmp_path / "go"
    root = Path(__file__).resolve().parents[1]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(go), f"p{i}"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        for i in range(4)
    ]
    time.sleep(0.3)  # let them import and connect, then start them together
    go.touch()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        results.append(json.loads(out))

    claimed = Counter(i for ids in results for i in ids)
    assert max(claimed.values()) == 1
    assert set(claimed) == all_ids
    assert sum(1 for ids in results if ids) > 1  # it was a race, not a relay


# -- finishing and requeueing --------------------------------------------------------------


def test_finish_attempt_records_attempts_and_moves_the_status(store: SqliteStore) -> None:
    [did] = put(store, "M1")
    store.claim_due(T0, T0 + CLAIM, "w", 10)
    assert finish(
        store,
        did,
        "w",
        DeliveryStatus.WAITING_RETRY,
        at(1),
        next_attempt_at=at(30),
        http_status=503,
        failure_class="server",
        detail="503 Service Unavailable",
        event=AuditEvent(at(1), "retry_scheduled", "M1", "ID-SKA"),
    )
    d = store.delivery(did)
    assert d["status"] == "waiting_retry" and d["attempts"] == 1
    assert d["next_attempt_at"] == at(30)
    assert (d["claimed_by"], d["claimed_until"]) == (None, None)
    assert (d["last_error"], d["last_failure_class"], d["last_http_status"]) == (
        "503 Service Unavailable",
        "server",
        503,
    )
    [a1] = store.attempts_for(did)
    assert (a1["number"], a1["outcome"], a1["http_status"], a1["failure_class"]) == (
        1,
        "waiting_retry",
        503,
        "server",
    )
    assert a1["started_at"] == at(1) and a1["duration_ms"] == 12.5
    # not claimed, so it cannot be finished again
    assert not finish(store, did, "w", DeliveryStatus.DELIVERED, at(2))

    store.claim_due(at(30), at(30) + CLAIM, "w", 10)
    assert finish(store, did, "w", DeliveryStatus.DELIVERED, at(31), http_status=200)
    d = store.delivery(did)
    assert d["status"] == "delivered" and d["attempts"] == 2
    assert d["delivered_at"] == at(31)
    assert d["last_error"] is None and d["last_failure_class"] is None
    assert [a["outcome"] for a in store.attempts_for(did)] == ["waiting_retry", "delivered"]
    assert [e["event"] for e in store.audit_for("M1")] == ["received", "retry_scheduled"]
    assert not finish(store, 999_999, "w", DeliveryStatus.DELIVERED, at(32))


def test_requeue_makes_failed_rows_due_keeps_ids_and_skips_delivered(store: SqliteStore) -> None:
    dead, waiting, done, flying = put(
        store,
        "M1",
        delivery_row("M1", destination="ID-SKA", order_key="a"),
        delivery_row("M1", destination="VN-ECOSYS", order_key="b"),
        delivery_row("M1", destination="TH-TCO", order_key="c"),
        delivery_row("M1", destination="MY-EPCO", order_key="d"),
    )
    store.claim_due(T0, T0 + timedelta(hours=1), "w", 10)
    finish(store, dead, "w", DeliveryStatus.DEAD, at(1), failure_class="fault", detail="no")
    finish(store, waiting, "w", DeliveryStatus.WAITING_RETRY, at(1), next_attempt_at=at(900))
    finish(store, done, "w", DeliveryStatus.DELIVERED, at(1))
    before_done = store.delivery(done)

    changed = store.requeue([dead, waiting, done, flying, 424242], at(5), "admin", "partner fixed")

    assert changed == [dead, waiting]
    for did in (dead, waiting):
        d = store.delivery(did)
        assert (d["status"], d["message_id"], d["next_attempt_at"]) == ("pending", "M1", at(5))
        assert d["first_attempt_at"] is None
    assert store.delivery(done) == before_done
    assert store.delivery(flying)["status"] == "in_flight"
    requeued = [e for e in store.audit_for("M1") if e["event"] == "requeued"]
    assert [(e["partner"], e["actor"], e["detail"]) for e in requeued] == [
        ("ID-SKA", "admin", f"delivery {dead} (dead): partner fixed"),
        ("VN-ECOSYS", "admin", f"delivery {waiting} (waiting_retry): partner fixed"),
    ]
    # a fresh retry budget: the attempts made so far no longer count against the policy
    assert [store.delivery(d)["budget_start"] for d in (dead, waiting)] == [1, 1]
    got = store.claim_due(at(5), at(5) + CLAIM, "w2", 10)
    assert {r["id"] for r in got} == {dead, waiting}
    assert all(r["message_id"] == "M1" for r in got)


# -- the audit chain -----------------------------------------------------------------------


@pytest.fixture
def chained(store: SqliteStore) -> SqliteStore:
    for i in range(5):
        store.audit(AuditEvent(at(i), f"event{i}", "M1", "KR-KCS", detail=f"detail {i}"))
    return store


def test_audit_chain_intact(store: SqliteStore, chained: SqliteStore) -> None:
    assert chained.verify_audit() == []
    rows = chained.audit_events(limit=10)[::-1]
    assert rows[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))
    assert [r["event"] for r in chained.audit_events("event3")] == ["event3"]


def test_empty_audit_chain_is_intact(store: SqliteStore) -> None:
    assert store.verify_audit() == []


def _row(path: Path, seq: int) -> dict:
    return dict(raw_sql(path, "SELECT * FROM audit WHERE seq = ?", [seq])[0])


def test_audit_detects_an_edited_detail(chained: SqliteStore) -> None:
    raw_sql(chained.path, "UPDATE audit SET detail = 'nothing happened' WHERE seq = 3")
    problems = chained.verify_audit()
    assert problems and any("seq 3" in p for p in problems)


def test_audit_detects_an_edit_that_recomputes_its_own_hash(chained: SqliteStore) -> None:
    row = _row(chained.path, 3) | {"detail": "nothing happened"}
    forged = audit_hash(row["prev_hash"], row)
    raw_sql(
        chained.path, "UPDATE audit SET detail = ?, hash = ? WHERE seq = 3", [row["detail"], forged]
    )
    problems = chained.verify_audit()
    assert any("seq 4" in p for p in problems)  # the next row no longer follows it


def test_audit_detects_a_deleted_middle_row(chained: SqliteStore) -> None:
    raw_sql(chained.path, "DELETE FROM audit WHERE seq = 3")
    problems = chained.verify_audit()
    assert any("missing" in p for p in problems)
    assert any("seq 4" in p for p in problems)


def test_audit_detects_a_forged_row(chained: SqliteStore) -> None:
    raw_sql(
        chained.path,
        "INSERT INTO audit (at, event, message_id, actor, detail, prev_hash, hash)"
        " VALUES (?, 'delivered', 'M1', 'system', 'forged', ?, ?)",
        [iso(at(9)), "f" * 64, "e" * 64],
    )
    problems = chained.verify_audit()
    assert any("seq 6" in p for p in problems)


def test_audit_detects_a_well_hashed_row_slipped_into_a_gap(chained: SqliteStore) -> None:
    """Replace row 3 by a forged one with a correct hash: row 4 still gives it away."""
    prev = _row(chained.path, 2)["hash"]
    raw_sql(chained.path, "DELETE FROM audit WHERE seq = 3")
    fake = {"at": iso(at(2)), "event": "delivered", "message_id": "M1", "partner": "KR-KCS"}
    fake |= {"code": None, "box": None, "actor": "system", "detail": "forged"}
    raw_sql(
        chained.path,
        "INSERT INTO audit (seq, at, event, message_id, partner, actor, detail, prev_hash, hash)"
        " VALUES (3, ?, 'delivered', 'M1', 'KR-KCS', 'system', 'forged', ?, ?)",
        [fake["at"], prev, audit_hash(prev, fake)],
    )
    problems = chained.verify_audit()
    assert problems == ["seq 4: does not follow the row before it"]
