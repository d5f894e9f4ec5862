"""One contract for every store adapter: each test runs on SQLite and on PostgreSQL.

The races run in separate processes (tests/store_load.py), as instances on two machines
would, released together by a start file.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from store_rows import CLAIM, T0, at, cert_row, delivery_row, message_row

from ak_bridge.adapters.store import migrations, open_database
from ak_bridge.core.model import DeliveryStatus
from ak_bridge.core.retry import Breaker
from ak_bridge.ops.reports import pilot_report
from ak_bridge.service.ports import (
    AuditEvent,
    DuplicateKey,
    StateChanged,
    Store,
    StoreError,
)
from ak_bridge.service.records import CertificateChange, DeliveryRecord

HERE = Path(__file__).parent


@pytest.fixture
def store(database: str) -> Store:
    return open_database(database)


def put(
    store: Store, mid: str, *deliveries: DeliveryRecord, ref: str = "KR-2026-000001"
) -> list[int]:
    store.accept(
        message_row(mid, ref=ref),
        list(deliveries) or [delivery_row(mid)],
        [AuditEvent(T0, "received", mid, "KR-KCS", detail="via soap")],
        [cert_row(ref, last_message_id=mid, importing_country="ID", order_key=f"KR|{ref}")],
    )
    return [d["id"] for d in store.deliveries_for(mid)]


def race(database: str, action: str, tmp_path: Path, processes: int = 4, n: int = 0) -> list:
    go = tmp_path / f"go-{action}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "store_load.py"),
                database,
                action,
                f"p{i}",
                str(n),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    return results


def test_accept_stores_everything_at_once(store: Store) -> None:
    [did] = put(store, "M1")
    assert store.message("M1")["raw"] == b"<CO/>"
    assert store.delivery(did)["payload"] == b"<payload/>"
    assert store.certificate("KR", "KR-2026-000001")["state"] == "ISSUED"
    assert [a["event"] for a in store.audit_for("M1")] == ["received"]


def test_a_message_header_is_the_message_without_its_documents(store: Store) -> None:
    """What each delivery attempt reads: every header field, neither document."""
    put(store, "M1")
    full, header = store.message("M1"), store.message_header("M1")
    assert header is not None and (header.raw, header.canonical) == (None, None)
    assert full.raw is not None
    for name in (
        "id",
        "direction",
        "sender",
        "receiver",
        "via",
        "document_type",
        "function",
        "partner_message_id",
        "issuing_country",
        "reference_no",
        "created_at",
    ):
        assert getattr(header, name) == getattr(full, name), name
    assert store.message_header("NO-SUCH") is None


def test_a_failing_part_stores_nothing_and_no_driver_error_leaves(store: Store) -> None:
    put(store, "M0")
    bad = dataclasses.replace(delivery_row("M1"), message_id="NO-SUCH-MESSAGE")  # foreign key
    with pytest.raises(StoreError) as err:
        store.accept(message_row("M1"), [delivery_row("M1"), bad], [AuditEvent(T0, "x", "M1")])
    assert type(err.value) is StoreError
    assert store.message("M1") is None and store.audit_for("M1") == []
    put(store, "M2", ref="KR-2026-000002")  # still usable
    assert store.verify_audit() == []


def test_a_taken_business_key_is_a_duplicate(store: Store) -> None:
    store.accept(message_row("M1", key="K"), [delivery_row("M1")], [AuditEvent(T0, "r", "M1")])
    with pytest.raises(DuplicateKey):
        store.accept(message_row("M2", key="K"), [delivery_row("M2")], [AuditEvent(T0, "r", "M2")])
    assert store.message_by_key("K")["id"] == "M1" and store.message("M2") is None


def test_a_moved_certificate_is_state_changed(store: Store) -> None:
    put(store, "M1")
    with pytest.raises(StateChanged):
        store.accept(message_row("M2"), [], [], [], {("KR", "", "KR-2026-000001"): "TRANSMITTED"})
    assert store.message("M2") is None


def test_claims_are_due_oldest_first_in_order_per_certificate_and_expire(store: Store) -> None:
    [first] = put(store, "A", delivery_row("A", order_key="KR|X", next_at=at(5)))
    [later] = put(store, "B", delivery_row("B", order_key="KR|X"), ref="KR-2")
    [other] = put(store, "C", delivery_row("C", destination="VN-ECOSYS"), ref="KR-3")
    assert store.claim_due(at(1), at(1) + CLAIM, "w1", 10) == [store.delivery(other)]
    assert [r["id"] for r in store.claim_due(at(6), at(6) + CLAIM, "w1", 10)] == [first]
    assert store.claim_due(at(7), at(7) + CLAIM, "w2", 10) == []  # B waits for A
    # w1 dies; its claim expires and w2 takes A over; w1's late answer records nothing
    [taken] = store.claim_due(at(6) + CLAIM + timedelta(seconds=1), at(500), "w2", 5, "ID-SKA")
    assert taken["id"] == first and taken["claimed_by"] == "w2"
    assert not store.finish_attempt(
        first, "w1", started_at=at(6), duration_ms=1, outcome=DeliveryStatus.DELIVERED, now=at(9)
    )
    assert store.finish_attempt(
        first,
        "w2",
        started_at=at(9),
        duration_ms=1,
        outcome=DeliveryStatus.DELIVERED,
        now=at(9),
        event=AuditEvent(at(9), "delivered", "A"),
        change=CertificateChange("KR", "KR-2026-000001", "ISSUED", "TRANSMITTED", "A"),
    )
    assert store.certificate("KR", "KR-2026-000001")["state"] == "TRANSMITTED"
    assert [r["id"] for r in store.claim_due(at(10), at(10) + CLAIM, "w2", 10, "ID-SKA")] == [later]
    assert store.attempts_for(first)[0]["number"] == 1


def test_requeue_cancel_purge_and_the_legal_hold(store: Store) -> None:
    [dead] = put(store, "D", delivery_row("D", status="dead"))
    [held] = put(store, "H", delivery_row("H", status="held"), ref="KR-H")
    assert store.requeue([dead], at(1), "admin", "fixed") == [dead]
    assert store.delivery(dead)["status"] == "pending"
    assert store.cancel([held, dead], at(2), "admin", "withdrawn") == [held, dead]
    store.accept(
        message_row("V", ref="KR-H"),
        [],
        [],
        [cert_row("KR-H", "VERIFICATION_REQUESTED")],
    )
    assert store.purgeable(at(10)) == ["D"]  # H's CO is under verification: kept
    assert store.purge(["D"], at(11), "admin") == 1
    assert store.message("D")["raw"] is None and store.delivery(dead)["payload"] == b""
    assert store.requeue([dead], at(12), "admin", "again") == []  # nothing left to send
    store.compact()
    assert store.verify_audit() == []


def test_breakers_heartbeats_and_listings(store: Store) -> None:
    opened = store.update_breaker("ID-SKA", lambda b: Breaker(3, at(60)), at(1))
    assert store.breaker("ID-SKA") == opened == Breaker(3, at(60))
    store.heartbeat("w1", at(1))
    store.heartbeat("w1", at(2))
    assert store.last_heartbeat() == at(2)
    put(store, "M1")
    assert store.counts_by_status() == {"pending": 1}
    assert [b["destination"] for b in store.backlog()] == ["ID-SKA"]
    assert store.find_deliveries(status=["pending"], destination="ID-SKA")[0]["message_id"] == "M1"
    assert [m["id"] for m in store.find_messages()] == ["M1"]


def test_the_pilot_report_queries_run_on_every_backend(store: Store) -> None:
    put(store, "M1")
    store.audit(AuditEvent(T0, "rejected", None, "VN-ECOSYS", "schema_violation", "7"))
    report = pilot_report(store, at(3600))
    assert report.partners[0].deliveries == 1
    assert report.partners[-1].refused_at_the_door == {"schema_violation": 1}
    assert report.lanes[0].by_state == {"ISSUED": 1}


def test_processes_appending_audit_at_once_never_fork_the_chain(
    database: str, store: Store, tmp_path: Path
) -> None:
    race(database, "audit", tmp_path, processes=4, n=50)
    assert store.verify_audit() == []
    assert store.audit_row()["seq"] == 200


def test_processes_claiming_at_once_never_take_a_delivery_twice(
    database: str, store: Store, tmp_path: Path
) -> None:
    ids = {d for i in range(40) for d in put(store, f"M{i}", ref=f"KR-{i}")}
    claims = race(database, "claim", tmp_path, processes=4)
    taken = [d for got in claims for d in got]
    assert sorted(taken) == sorted(ids)  # every one claimed, none twice


def test_the_partner_concurrency_limit_holds_across_processes(
    database: str, store: Store, tmp_path: Path
) -> None:
    for i in range(20):
        put(store, f"M{i}", ref=f"KR-{i}")
    claims = race(database, "claim_limited", tmp_path, processes=4)
    assert sum(len(c) for c in claims) == 3
    assert store.in_flight_count("ID-SKA", T0) == 3


def test_the_same_message_from_two_instances_is_stored_once(
    database: str, store: Store, tmp_path: Path
) -> None:
    outcomes = race(database, "accept_same", tmp_path, processes=4)
    assert sorted(outcomes) == ["duplicate"] * 3 + ["won"]
    assert store.verify_audit() == []


def test_a_certificate_moves_from_a_state_only_once(
    database: str, store: Store, tmp_path: Path
) -> None:
    store.accept(
        message_row("M0", ref="KR-RACE"),
        [],
        [],
        [cert_row("KR-RACE")],
    )
    outcomes = race(database, "replace_same", tmp_path, processes=4)
    assert sorted(outcomes) == ["state_changed"] * 3 + ["won"]


def test_instances_starting_at_once_on_an_empty_database_all_get_the_whole_schema(
    database: str, tmp_path: Path
) -> None:
    versions = race(database, "open", tmp_path, processes=4)
    assert versions == [migrations.LATEST] * 4
