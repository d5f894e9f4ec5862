"""Regression tests for bugs found in review; each failed before its fix.

Everything is real: the bridge and the partner systems serve on loopback, the store is a
SQLite file, the documents are signed with the test PKI.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import zeep
from flows import kcs_sends, settle, state, vn_sends
from lxml import etree

from ak_bridge.core import rules
from ak_bridge.core.model import (
    CancellationNotice,
    CustomsResponse,
    DocumentType,
    ItemDecision,
    PreferenceDecision,
    RetransmissionRequest,
)
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import AMS

TODAY = datetime.now(UTC).date()


def id_sends(topo: Topology, doc, message_id: str):
    ind = topo.systems["ID-SKA"]
    xml, _, _ = ind.document_for(doc)
    return ind.submit_soap(topo.bridge_url, AMS, ind.envelope_for(doc, message_id), xml)


def rejections(bridge: Exchange) -> list[str]:
    return [a["code"] for a in bridge.store.audit_events("rejected")]


@pytest.fixture
def issued(topology: Topology, bridge: Exchange, worker: Exchange):
    """A KR→VN certificate, delivered to Viet Nam."""
    co = sample_form_ak("KR-2026-AK-009001", "KR", "VN", TODAY - timedelta(days=2))
    assert kcs_sends(topology, co, "K-issue").PrcsRsltCd == "accepted"
    settle(worker)
    assert [r.certificate for r in topology.systems["VN-ECOSYS"].received] == [co]
    return co


def _response(co, declaration: str = "VN-IMP-1", importer: str = "VN") -> CustomsResponse:
    return CustomsResponse(
        co.reference_no,
        "KR",
        importer,
        declaration,
        TODAY,
        tuple(ItemDecision(i + 1, PreferenceDecision.GIVEN) for i in range(len(co.items))),
    )


# -- idempotency: an identical resend after a state change gets the original receipt ---------


def test_identical_cancel_resent_gets_the_original_receipt(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    notice = CancellationNotice(issued.reference_no, "KR", "VN", "withdrawn", TODAY)
    first = kcs_sends(topology, notice, "K-cancel")
    assert first.PrcsRsltCd == "accepted"
    # The partner lost our receipt and sends the very same message again.
    again = kcs_sends(topology, notice, "K-cancel-resend")
    assert again.PrcsRsltCd == "duplicate"
    assert again.MsgId == first.MsgId
    settle(worker)
    vn = topology.systems["VN-ECOSYS"]
    assert [r.certificate for r in vn.received].count(notice) == 1


def test_cancel_with_other_content_is_a_conflict_kept_for_the_admin(
    topology: Topology, bridge: Exchange, issued
) -> None:
    notice = CancellationNotice(issued.reference_no, "KR", "VN", "withdrawn", TODAY)
    assert kcs_sends(topology, notice, "K-cancel").PrcsRsltCd == "accepted"
    other = dataclasses.replace(notice, reason="another reason entirely")
    with pytest.raises(zeep.exceptions.Fault, match="duplicate_conflict"):
        kcs_sends(topology, other, "K-cancel-2")
    assert [a["event"] for a in bridge.store.audit_events("conflict_kept")] == ["conflict_kept"]


def test_identical_replace_resent_gets_the_original_receipt(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    fixed = dataclasses.replace(
        issued,
        reference_no="KR-2026-AK-009002",
        replaces_reference_no=issued.reference_no,
        original_issue_date=issued.issue_date,
    )
    first = kcs_sends(topology, fixed, "K-replace")
    assert first.PrcsRsltCd == "accepted"
    again = kcs_sends(topology, fixed, "K-replace-resend")
    assert again.PrcsRsltCd == "duplicate"
    assert again.MsgId == first.MsgId


# -- a certificate's row is never overwritten by another CO's message ------------------------


def test_replacement_cannot_take_the_number_of_another_live_co(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    other = sample_form_ak("KR-2026-AK-009005", "KR", "ID", TODAY - timedelta(days=2))
    assert kcs_sends(topology, other, "K-other").PrcsRsltCd == "accepted"
    settle(worker)
    notice = CancellationNotice(other.reference_no, "KR", "ID", "withdrawn", TODAY)
    assert kcs_sends(topology, notice, "K-cancel-other").PrcsRsltCd == "accepted"
    assert state(bridge, other.reference_no) == "CANCELLED"
    # A "replacement" of the VN CO that reuses the number of the cancelled ID CO ...
    clash = dataclasses.replace(
        issued,
        reference_no=other.reference_no,
        replaces_reference_no=issued.reference_no,
        original_issue_date=issued.issue_date,
    )
    with pytest.raises(zeep.exceptions.Fault, match="duplicate_conflict"):
        kcs_sends(topology, clash, "K-clash")
    # ... neither revives the cancelled CO nor retires the one it claimed to replace.
    assert state(bridge, other.reference_no) == "CANCELLED"
    assert bridge.store.certificate("KR", other.reference_no)["importing_country"] == "ID"
    assert state(bridge, issued.reference_no) == "TRANSMITTED"
    assert "duplicate_conflict" in rejections(bridge)


def test_issue_cannot_reuse_the_number_of_a_replacement(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    fixed = dataclasses.replace(
        issued,
        reference_no="KR-2026-AK-009006",
        replaces_reference_no=issued.reference_no,
        original_issue_date=issued.issue_date,
    )
    assert kcs_sends(topology, fixed, "K-replace").PrcsRsltCd == "accepted"
    settle(worker)
    fresh = sample_form_ak(fixed.reference_no, "KR", "ID", TODAY - timedelta(days=1))
    with pytest.raises(zeep.exceptions.Fault, match="duplicate_conflict"):
        kcs_sends(topology, fresh, "K-reuse")
    cert = bridge.store.certificate("KR", fixed.reference_no)
    assert cert["importing_country"] == "VN" and cert["state"] == "TRANSMITTED"


# -- authorization does not depend on documents that a purge removes -------------------------


def test_after_a_purge_another_party_still_cannot_answer_for_a_co(
    topology: Topology, bridge: Exchange, issued
) -> None:
    cert = bridge.store.certificate("KR", issued.reference_no)
    assert bridge.store.purge([cert["last_message_id"]], datetime.now(UTC), "test") == 1
    # Indonesia claims to be the importing side of Korea's CO for Viet Nam: for Indonesia,
    # that CO does not exist (the answer does not tell it that it does).
    forged = _response(issued, "ID-IMP-1", importer="ID")
    with pytest.raises(zeep.exceptions.Fault, match="not_found"):
        id_sends(topology, forged, "ID-forged")
    assert state(bridge, issued.reference_no) == "TRANSMITTED"
    assert topology.systems["KR-KCS"].received == []
    # Nor can the issuing side send a cancel to another importer than the CO's.
    notice = CancellationNotice(issued.reference_no, "KR", "ID", "withdrawn", TODAY)
    with pytest.raises(zeep.exceptions.Fault, match="validation_failed") as refused:
        kcs_sends(topology, notice, "K-cancel-wrong")
    assert b">certificate_mismatch<" in etree.tostring(refused.value.detail)
    assert state(bridge, issued.reference_no) == "TRANSMITTED"
    assert topology.systems["ID-SKA"].received == []


# -- purged documents are never sent again as empty payloads ---------------------------------


def test_retransmission_of_a_purged_co_is_refused_not_sent_empty(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    cert = bridge.store.certificate("KR", issued.reference_no)
    bridge.store.purge([cert["last_message_id"]], datetime.now(UTC), "test")
    request = RetransmissionRequest(issued.reference_no, "KR", "VN", "data lost", TODAY)
    resp = vn_sends(topology, request, "VN-rt")
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "not_found"
    settle(worker)
    vn = topology.systems["VN-ECOSYS"]
    assert vn.hits == 1 and vn.errors == []


def test_retry_of_a_purged_dead_letter_sends_nothing(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    vn.mode = "fault"  # a business rejection: dead at once
    co = sample_form_ak("KR-2026-AK-009010", "KR", "VN", TODAY - timedelta(days=2))
    receipt = kcs_sends(topology, co, "K-dead")
    settle(worker)
    [delivery] = bridge.store.deliveries_for(receipt.MsgId)
    assert delivery["status"] == "dead"
    assert bridge.store.purge([receipt.MsgId], datetime.now(UTC), "test") == 1
    vn.mode = "ok"
    assert bridge.store.requeue([delivery["id"]], datetime.now(UTC), "admin", "retry") == []
    settle(worker)
    assert vn.hits == 1 and vn.received == []
    assert bridge.store.delivery(delivery["id"])["status"] == "dead"


# -- a CO's state is changed only from the state the decision was taken on -------------------


def test_a_message_decided_on_a_stale_state_does_not_undo_a_concurrent_cancel(
    topology: Topology, bridge: Exchange, worker: Exchange, issued, monkeypatch
) -> None:
    """Viet Nam's customs response and Korea's cancel arrive at the same moment.

    The response is checked against TRANSMITTED; before it is stored, the cancel commits.
    The response must not then be stored as if the CO were still live (CANCELLED would go
    back to PREFERENCE_GIVEN, and both messages would be forwarded).
    """
    real_check = rules.check_message
    fired = []

    def cancel_meanwhile(msg, ctx, certificate=None):
        findings = real_check(msg, ctx, certificate)
        if isinstance(msg, CustomsResponse) and not fired:
            fired.append(True)
            notice = CancellationNotice(issued.reference_no, "KR", "VN", "withdrawn", TODAY)
            assert kcs_sends(topology, notice, "K-cancel").PrcsRsltCd == "accepted"
        return findings

    monkeypatch.setattr(rules, "check_message", cancel_meanwhile)
    resp = vn_sends(topology, _response(issued), "VN-resp")
    assert fired
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "certificate_state_conflict"
    assert state(bridge, issued.reference_no) == "CANCELLED"
    settle(worker)
    assert topology.systems["KR-KCS"].received == []


def test_a_retransmission_request_does_not_write_back_a_stale_state(
    topology: Topology, bridge: Exchange, worker: Exchange, issued, monkeypatch
) -> None:
    real_check = rules.check_message
    fired = []

    def respond_meanwhile(msg, ctx, certificate=None):
        findings = real_check(msg, ctx, certificate)
        if isinstance(msg, RetransmissionRequest) and not fired:
            fired.append(True)
            assert vn_sends(topology, _response(issued), "VN-resp").status_code == 200
        return findings

    monkeypatch.setattr(rules, "check_message", respond_meanwhile)
    request = RetransmissionRequest(issued.reference_no, "KR", "VN", "data lost", TODAY)
    assert vn_sends(topology, request, "VN-rt").status_code == 200
    assert fired
    assert state(bridge, issued.reference_no) == "PREFERENCE_GIVEN"


# -- a partner's concurrency limit holds across workers --------------------------------------


def test_two_workers_together_keep_a_partners_concurrency_limit(topology: Topology) -> None:
    """Worker 2 counts what is in flight, then worker 1 claims, then worker 2 claims.

    The count and the claim must be one transaction, or the two together send
    ``max_in_flight`` + 1 deliveries at once to a partner that asked for one.
    """
    settings = topology.settings
    vn_config = dataclasses.replace(settings.partners["VN-ECOSYS"], max_in_flight=1)
    topology.settings = dataclasses.replace(
        settings, partners={**settings.partners, "VN-ECOSYS": vn_config}
    )
    topology.start_bridge()
    first, second = topology.worker_exchange("w1"), topology.worker_exchange("w2")
    for n in (1, 2):
        co = sample_form_ak(f"KR-2026-AK-00902{n}", "KR", "VN", TODAY - timedelta(days=2))
        assert kcs_sends(topology, co, f"K-{n}").PrcsRsltCd == "accepted"
    vn = topology.systems["VN-ECOSYS"]
    vn.mode, vn.slow_seconds = "slow", 1.0

    real_breaker = second.store.breaker
    sending: list[threading.Thread] = []

    def first_worker_claims_meanwhile(partner: str):
        if partner == "VN-ECOSYS" and not sending:
            sending.append(threading.Thread(target=first.deliver_due))
            sending[0].start()
            deadline = time.monotonic() + 5
            while vn.hits < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert vn.hits == 1  # worker 1 is now sending to Viet Nam
        return real_breaker(partner)

    second.store.breaker = first_worker_claims_meanwhile  # type: ignore[method-assign]
    report = second.deliver_due()
    sending[0].join()
    assert report.attempted == 0  # the one slot was taken: worker 2 sent nothing
    assert vn.hits == 1
    vn.mode = "ok"
    settle(first)
    assert len(vn.received) == 2 and vn.duplicates == 0


# -- ordering: a retried dead letter never overtakes what followed it ------------------------


def test_retrying_a_dead_co_after_its_cancel_was_delivered_does_not_resend_it(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    vn.mode = "fault"  # Viet Nam refuses the CO: a dead letter
    co = sample_form_ak("KR-2026-AK-009030", "KR", "VN", TODAY - timedelta(days=2))
    receipt = kcs_sends(topology, co, "K-co")
    settle(worker)
    [dead] = bridge.store.deliveries_for(receipt.MsgId)
    assert dead["status"] == "dead"
    vn.mode = "ok"
    notice = CancellationNotice(co.reference_no, "KR", "VN", "withdrawn", TODAY)
    assert kcs_sends(topology, notice, "K-cancel").PrcsRsltCd == "accepted"
    settle(worker)
    assert [r.certificate for r in vn.received] == [notice]
    # An admin's "retry all dead" must not now deliver the cancelled CO after its cancel.
    assert bridge.store.requeue([dead["id"]], datetime.now(UTC), "admin", "retry") == []
    settle(worker)
    assert [r.certificate for r in vn.received] == [notice]


# -- a Form D sent again is not passed to the ASW twice --------------------------------------


def test_the_same_form_d_resent_is_forwarded_once(tmp_path) -> None:
    topo = build_topology(tmp_path / "asw", asw=True)
    assert topo.asw is not None
    received = topo.asw.received
    try:
        topo.start_bridge()
        worker = topo.worker_exchange()
        ind = topo.systems["ID-SKA"]
        co = sample_form_ak("0010/SKA-D/JKT/2026", "ID", "KR", TODAY)
        xml, _, _ = ind.document_for(co)
        replies = [
            ind.submit_soap(
                topo.bridge_url,
                AMS,
                ind.envelope_for(co, f"ID-D{n}", document_type=DocumentType.FORM_D),
                xml,
            )
            for n in (1, 2)  # the receipt of the first was lost: the same bytes again
        ]
        assert [r.Status for r in replies] == ["forwarded_to_asw", "duplicate"]
        assert replies[0].MessageId == replies[1].MessageId
        settle(worker)
        assert [message_id for _, message_id in received] == [replies[0].MessageId]
    finally:
        topo.stop()
