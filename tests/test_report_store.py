"""The pilot report's store reads (adapters/store/report_reads.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from store_rows import T0, at, cert_row, delivery_row, message_row

from ak_bridge.adapters.store import open_database
from ak_bridge.core.model import DeliveryStatus
from ak_bridge.service.ports import AuditEvent, Store, iso


@pytest.fixture
def store(database: str) -> Store:
    return open_database(database)


def _put(
    store: Store, mid: str, ref: str, *, doc="FORM_AK", when=T0, canonical="{}", to="VN-ECOSYS"
) -> None:
    message = dataclasses.replace(
        message_row(mid, ref=ref), document_type=doc, created_at=when, canonical=canonical
    )
    store.accept(
        message,
        [
            dataclasses.replace(
                delivery_row(mid, destination=to), created_at=when, next_attempt_at=when
            )
        ],
        [AuditEvent(when, "received", mid, "KR-KCS")],
        [cert_row(ref, importing_country="ID")] if doc == "FORM_AK" else [],
    )


def test_report_reads_give_lanes_shadow_refusals_and_documents(store: Store) -> None:
    assert store.report_first_activity() is None
    _put(store, "M1", "KR-1", to="ID-SKA")
    _put(store, "M2", "KR-2", when=at(3600))
    response = {"decisions": [{"item_no": 1, "decision": "GIVEN"}]}
    _put(store, "R1", "KR-1", doc="CUSTOMS_RESPONSE", when=at(60), canonical=json.dumps(response))
    _put(store, "OLD", "KR-0", when=T0 - timedelta(days=3))
    store.audit(AuditEvent(at(5), "rejected", None, "VN-ECOSYS", "schema_violation", "7"))
    # M1's delivery is held (shadow mode), then released and delivered: still a shadow one
    (held,) = store.claim_due(at(1), at(100), "w", 1, destination="ID-SKA")
    for step, outcome in enumerate((DeliveryStatus.HELD, DeliveryStatus.DELIVERED)):
        if step:
            store.requeue([held.id], at(2), "admin", "go live")
            (held,) = store.claim_due(at(3), at(100), "w", 1, destination="ID-SKA")
        store.finish_attempt(
            held.id, "w", started_at=at(2), duration_ms=1.0, outcome=outcome, now=at(3)
        )

    assert store.report_first_activity() == iso(T0 - timedelta(days=3))
    since, until = T0, at(7200)
    messages = store.report_messages(since, until)
    assert [(m["id"], m["document_type"], m["issuing"], m["importing"]) for m in messages] == [
        ("M1", "FORM_AK", "KR", "ID"),
        ("R1", "CUSTOMS_RESPONSE", "KR", "ID"),
        ("M2", "FORM_AK", "KR", "ID"),
    ]
    deliveries = {d["id"]: d for d in store.report_deliveries(since, until)}
    assert len(deliveries) == 3  # OLD's is before the period
    shadow = [d for d in deliveries.values() if d["shadow"]]
    assert [(d["id"], d["status"]) for d in shadow] == [(held.id, "delivered")]
    assert shadow[0]["importing"] == "ID" and shadow[0]["document_type"] == "FORM_AK"
    assert [d["shadow"] for d in deliveries.values()].count(False) == 2
    (refusal,) = store.report_refusals(since, until)
    assert (refusal["partner"], refusal["code"], refusal["box"]) == (
        "VN-ECOSYS",
        "schema_violation",
        "7",
    )
    assert store.report_refusals(at(10), until) == []
    (doc,) = store.report_documents(["CUSTOMS_RESPONSE"], since, until)
    assert json.loads(doc["canonical"]) == response and doc["importing"] == "ID"
    assert store.report_documents(["VERIFICATION_REQUEST"], since, until) == []


def _message(
    store: Store,
    mid: str,
    ref: str,
    doc: str,
    key: str,
    canonical: str | None,
    when=T0,
    events: tuple[str, ...] = ("received",),
    state: str | None = None,
) -> None:
    """One message about ``ref`` with its audit events; ``state``: the CO's state after it."""
    row = dataclasses.replace(
        message_row(mid, ref=ref, key=key), document_type=doc, created_at=when, canonical=canonical
    )
    store.accept(
        row,
        [],
        [AuditEvent(when, e, mid, "KR-KCS") for e in events],
        [dataclasses.replace(cert_row(ref, state, importing_country="VN"), updated_at=when)]
        if state
        else [],
    )


def test_reply_clock_rows_of_open_requests_on_both_backends(store: Store) -> None:
    """Requests, extensions, replies and clock-starting acknowledgements of COs still
    VERIFICATION_REQUESTED; nothing of a CO whose verification ended, no other message."""
    ref, done = "KR-OPEN", "KR-DONE"
    old = json.dumps({"request_no": "VR-0", "reply_due": "2026-05-02"})
    request = json.dumps({"request_no": "VR-1", "reply_due": "2026-05-02"})
    extension = json.dumps({"request_no": "VR-1", "extended_to": "2026-06-01"})
    ack_key = f"KR|{ref}|Ack|11|{ref}-vr"
    clock = ("received", "verification_request_received")
    asked = "VERIFICATION_REQUESTED"
    for r in (ref, done):
        _message(store, f"{r}-co", r, "FORM_AK", f"KR|{r}|9", "{}", state="TRANSMITTED")
    for mid, r, doc, key, canonical, when, events, state in [
        ("OLD", ref, "VERIFICATION_REQUEST", "VR-0", old, 10, ("received",), asked),
        ("OLD-R", ref, "VERIFICATION_REPLY", "R-0", "{}", 20, ("received",), "VERIFIED"),
        ("DOCS", ref, "DOCUMENTS_REQUEST", "D-0", "{}", 30, ("received",), None),
        (f"{ref}-vr", ref, "VERIFICATION_REQUEST", "VR-1", request, 60, ("received",), asked),
        (f"{done}-vr", done, "VERIFICATION_REQUEST", "VR-1", request, 60, ("received",), asked),
        ("ACK", ref, "ACK", f"Ack|11|{ref}-vr", "{}", 120, clock, None),
        ("NACK", ref, "ACK", "NACK", "{}", 130, ("received", "acknowledged_rejected"), None),
        ("EXT", ref, "VERIFICATION_EXTENSION", "VX-1", extension, 180, ("received",), None),
        ("EXT-0", ref, "VERIFICATION_EXTENSION", "VX-0", None, 190, ("received",), None),
        ("DONE-R", done, "VERIFICATION_REPLY", "R-1", "{}", 200, ("received",), "VERIFIED"),
    ]:
        _message(store, mid, r, doc, f"KR|{r}|{key}", canonical, at(when), events, state)

    # KCCI numbers apart from KCS (1.1): its CO of the same number is verified, not asked
    kcci = dataclasses.replace(
        message_row("KCCI-VR", ref=ref, key="KCCI-VR"),
        document_type="VERIFICATION_REQUEST",
        canonical=request,
        issuing_body="KCCI",
    )
    body_co = cert_row(ref, "VERIFIED", importing_country="VN", issuing_body="KCCI")
    store.accept(kcci, [], [AuditEvent(T0, "received", "KCCI-VR", "KR-KCCI")], [body_co])

    rows = store.report_reply_clocks()
    assert [(r["id"], r["document_type"]) for r in rows] == [
        ("OLD", "VERIFICATION_REQUEST"),
        ("OLD-R", "VERIFICATION_REPLY"),
        (f"{ref}-vr", "VERIFICATION_REQUEST"),
        ("ACK", "ACK"),
        ("EXT", "VERIFICATION_EXTENSION"),
        ("EXT-0", "VERIFICATION_EXTENSION"),
    ]
    _, _, vr, ack, ext, purged = rows
    assert (vr["issuing"], vr["issuing_body"], vr["reference_no"]) == ("KR", "", ref)
    assert vr["importing"] == "VN"
    assert json.loads(vr["canonical"]) == json.loads(request) and vr["clock_started"] is None
    assert (ack["clock_started"], ack["business_key"]) == (iso(at(120)), ack_key)
    assert json.loads(ext["canonical"])["extended_to"] == "2026-06-01"
    assert purged["canonical"] is None and ext["clock_started"] is None
