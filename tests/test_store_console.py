"""The console's reads and operator accounts, on SQLite and on PostgreSQL (``database``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_rows import CLAIM, T0, at, cert_row, delivery_row, message_row

from ak_bridge.adapters.store import migrations, open_database
from ak_bridge.core.model import DeliveryStatus
from ak_bridge.service.ports import AuditEvent, DuplicateKey, Store
from ak_bridge.service.selection import LISTING_FIELDS


@pytest.fixture
def store(database: str) -> Store:
    return open_database(database)


def _history(store: Store) -> dict[str, int]:
    """Three messages: A to ID-SKA delivered, B to VN-ECOSYS dead, C from ID-SKA pending."""
    ids = {}
    for mid, dest, sender, doc in (
        ("A", "ID-SKA", "KR-KCS", "FORM_AK"),
        ("B", "VN-ECOSYS", "KR-KCS", "FORM_AK"),
        ("C", "KR-KCS", "ID-SKA", "CUSTOMS_RESPONSE"),
    ):
        row = message_row(mid, ref=f"KR-2026-00000{ord(mid) - 64}")
        row = type(row)(**{**row.plain(), "sender": sender, "document_type": doc})
        store.accept(
            row,
            [delivery_row(mid, destination=dest)],
            [AuditEvent(T0, "received", mid, sender)],
            [cert_row(row.reference_no, last_message_id=mid, order_key=f"KR|{mid}")],
        )
        ids[mid] = store.deliveries_for(mid)[0]["id"]
    store.claim_due(at(1), at(1) + CLAIM, "w", 10)
    for mid, outcome, fc in (("A", "DELIVERED", None), ("B", "DEAD", "transport")):
        store.finish_attempt(
            ids[mid],
            "w",
            started_at=at(1),
            duration_ms=5,
            outcome=DeliveryStatus[outcome],
            now=at(2),
            failure_class=fc,
            detail="refused" if fc else None,
        )
    return ids


def test_search_by_either_side_and_every_filter(store: Store) -> None:
    _history(store)

    def mids(**kw: object) -> set[str]:
        return {r["message_id"] for r in store.search_deliveries(**kw)}

    assert mids() == {"A", "B", "C"}
    assert mids(partners=["ID-SKA"]) == {"A", "C"}  # destination of A, sender of C
    assert mids(states=["dead"]) == {"B"}
    assert mids(document_types=["CUSTOMS_RESPONSE"]) == {"C"}
    assert mids(failure_classes=["transport"]) == {"B"}
    assert mids(partner_message_id="kcs-B") == {"B"}
    assert mids(reference_no="KR-2026-000001") == {"A"}
    assert mids(directions=["out"]) == set()
    assert mids(since=T0 + timedelta(seconds=1)) == set()
    assert mids(until=T0 + timedelta(seconds=1)) == {"A", "B", "C"}
    page = store.search_deliveries(limit=2, offset=2)
    assert [r["message_id"] for r in page] == ["C"]
    assert tuple(page[0]) == LISTING_FIELDS
    assert store.known_partners() == ["ID-SKA", "KR-KCS", "VN-ECOSYS"]


def test_refusals_and_hourly_series(store: Store) -> None:
    _history(store)
    for n, partner in enumerate(["ID-SKA", "VN-ECOSYS", "ID-SKA"]):
        store.audit(
            AuditEvent(
                at(10 + n),
                "rejected",
                partner=partner,
                code=f"code_{n}",
                box="7",
                detail=f"soap message THEIRS-{n}: no",
            )
        )
    got = store.refusals()
    assert [r["code"] for r in got] == ["code_2", "code_1", "code_0"]
    assert [r["code"] for r in store.refusals(partners=["ID-SKA"])] == ["code_2", "code_0"]
    assert [r["code"] for r in store.refusals(partner_message_id="THEIRS-1")] == ["code_1"]
    assert [r["code"] for r in store.refusals(codes=["code_0"], since=at(10))] == ["code_0"]
    assert store.refusals(until=at(10)) == []
    series = store.finished_per_hour(T0 - timedelta(hours=1))
    assert {(r["destination"], r["status"], r["hour"], r["n"]) for r in series} == {
        ("ID-SKA", "delivered", "2026-03-02T09", 1),
        ("VN-ECOSYS", "dead", "2026-03-02T09", 1),
    }
    store.heartbeat("w1", at(5))
    assert [(h["worker"], h["at"][:19]) for h in store.heartbeats()] == [
        ("w1", "2026-03-02T09:00:05")
    ]


def test_operator_accounts_and_shared_login_failures(store: Store, database: str) -> None:
    assert store.schema_version() == migrations.LATEST
    store.add_operator("ana", "operator", "$argon2id$hash", T0)
    with pytest.raises(DuplicateKey):
        store.add_operator("ana", "viewer", "x", T0)
    assert store.operator("ana")["password_hash"] == "$argon2id$hash"
    assert [o["name"] for o in store.operators()] == ["ana"]
    assert "password_hash" not in store.operators()[0]
    store.set_operator_password("ana", "$argon2id$new")
    assert store.operator("ana")["password_hash"] == "$argon2id$new"
    for n in range(3):
        store.login_failed("ana", at(n))
    other = open_database(database)  # a second instance sees the same count
    assert other.login_failures("ana", at(1)) == 2
    store.login_succeeded("ana")
    assert other.login_failures("ana", T0) == 0
    assert store.disable_operator("ana", at(9))
    assert not store.disable_operator("ana", at(9))
    assert store.operator("ana")["disabled_at"] is not None
    assert store.operator("nobody") is None


def test_the_console_searches_use_indexes(tmp_path) -> None:
    """SQLite's plan for the hot searches names an index, not a scan of the table."""
    store = open_database(str(tmp_path / "plan.db"))
    with store.read() as tx:
        for sql, index in (
            (
                "SELECT * FROM messages WHERE partner_message_id = 'x'",
                "messages_partner_message_id",
            ),
            ("SELECT * FROM messages WHERE sender = 'x'", "messages_sender"),
            (
                "SELECT * FROM deliveries WHERE status = 'dead' AND updated_at >= 'x'",
                "deliveries_status_updated",
            ),
            (
                "SELECT * FROM audit WHERE event = 'rejected' AND partner = 'x'",
                "audit_partner_event",
            ),
            (
                "SELECT count(*) FROM login_failures WHERE name = 'x' AND at >= 'y'",
                "login_failures_name_at",
            ),
        ):
            plan = " ".join(str(r) for r in tx.rows(f"EXPLAIN QUERY PLAN {sql}"))
            assert index in plan, (sql, plan)
