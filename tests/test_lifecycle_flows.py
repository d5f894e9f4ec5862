"""The life of a CO through the bridge: replace, cancel, customs response, verification,
retransmission, status — each over the real servers, each checked at the far side."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
import zeep
from flows import issue_kr_vn, kcs_sends, settle, state, vn_sends

from ak_bridge.core.model import (
    CancellationNotice,
    CustomsResponse,
    ItemDecision,
    MessageFunction,
    PreferenceDecision,
    RetransmissionRequest,
    VerificationReply,
    VerificationRequest,
    VerificationResult,
)
from ak_bridge.core.rules import default_reply_due
from ak_bridge.ops.reports import pilot_report
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS, KCS

TODAY = datetime.now(UTC).date()


@pytest.fixture
def issued(topology: Topology, bridge: Exchange, worker: Exchange):
    """A KR→VN certificate, delivered to Viet Nam."""
    return issue_kr_vn(topology, worker, "KR-2026-AK-007001")


def test_replace_reaches_the_importing_side_and_retires_the_old_co(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    fixed = dataclasses.replace(
        issued,
        reference_no="KR-2026-AK-007002",
        replaces_reference_no=issued.reference_no,
        original_issue_date=issued.issue_date,
        remarks="Box 7 description corrected",
    )
    reply = kcs_sends(topology, fixed, "K-replace")
    assert reply.PrcsRsltCd == "accepted"
    settle(worker)
    vn = topology.systems["VN-ECOSYS"]
    assert vn.received[-1].certificate == fixed
    assert vn.received[-1].envelope.function == "5"
    assert state(bridge, issued.reference_no) == "REPLACED"
    assert state(bridge, fixed.reference_no) == "TRANSMITTED"
    # A replaced CO cannot be replaced again.
    again = dataclasses.replace(fixed, reference_no="KR-2026-AK-007003")
    with pytest.raises(zeep.exceptions.Fault, match="certificate_state_conflict"):
        kcs_sends(topology, again, "K-replace-2")


def test_replace_with_the_wrong_function_is_refused(
    topology: Topology, bridge: Exchange, issued
) -> None:
    fixed = dataclasses.replace(
        issued,
        reference_no="KR-2026-AK-007009",
        replaces_reference_no=issued.reference_no,
        original_issue_date=issued.issue_date,
    )
    kcs = topology.systems["KR-KCS"]
    xml, _, _ = kcs.document_for(fixed)
    env = kcs.envelope_for(fixed, "K-bad-fn", function=MessageFunction.ORIGINAL)
    with pytest.raises(zeep.exceptions.Fault, match="schema_violation"):
        kcs.submit_soap(topology.bridge_url, KCS, env, xml)


def test_cancel_reaches_the_importing_side_and_then_nothing_more_is_possible(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    notice = CancellationNotice(
        issued.reference_no, "KR", "VN", "exporter withdrew the application", TODAY
    )
    assert kcs_sends(topology, notice, "K-cancel").PrcsRsltCd == "accepted"
    settle(worker)
    assert topology.systems["VN-ECOSYS"].received[-1].certificate == notice
    assert state(bridge, issued.reference_no) == "CANCELLED"
    response = CustomsResponse(
        issued.reference_no,
        "KR",
        "VN",
        "VN-IMP-1",
        TODAY,
        (ItemDecision(1, PreferenceDecision.GIVEN), ItemDecision(2, PreferenceDecision.GIVEN)),
    )
    resp = vn_sends(topology, response, "VN-resp-late")
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "certificate_state_conflict"


def test_customs_response_travels_back_to_the_issuing_side(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    response = CustomsResponse(
        issued.reference_no,
        "KR",
        "VN",
        "VN-IMP-2026-000123",
        TODAY,
        (
            ItemDecision(1, PreferenceDecision.GIVEN),
            ItemDecision(2, PreferenceDecision.NOT_GIVEN, "origin criterion not met"),
        ),
        officer="Nguyen Van A",
    )
    resp = vn_sends(topology, response, "VN-resp-1")
    assert resp.status_code == 200, resp.text
    settle(worker)
    kcs = topology.systems["KR-KCS"]
    assert kcs.received[-1].certificate == response
    assert state(bridge, issued.reference_no) == "PREFERENCE_NOT_GIVEN"
    # the pilot report sees the lane and the time to the importing customs' decision
    (lane,) = pilot_report(bridge.store, datetime.now(UTC) + timedelta(seconds=1)).lanes
    assert (lane.issuing, lane.importing, lane.decisions) == ("KR", "VN", 1)
    assert lane.by_state == {"PREFERENCE_NOT_GIVEN": 1}
    assert lane.decision_p50_h is not None and lane.decision_p50_h < 1


def _answer(topology: Topology, worker: Exchange, co, decisions, tag: str) -> None:
    response = CustomsResponse(co.reference_no, "KR", "VN", f"VN-IMP-{tag}", TODAY, decisions)
    assert vn_sends(topology, response, f"VN-{tag}").status_code == 200
    settle(worker)


def test_a_co_refused_for_one_item_can_be_replaced_with_a_correction(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    """The EODES flow: import customs refuse an item, the issuing body re-issues (issue 11 §3)."""
    refused = (
        ItemDecision(1, PreferenceDecision.GIVEN),
        ItemDecision(2, PreferenceDecision.NOT_GIVEN, "HS code differs from the declaration"),
    )
    _answer(topology, worker, issued, refused, "partial")
    assert state(bridge, issued.reference_no) == "PREFERENCE_NOT_GIVEN"
    fixed = dataclasses.replace(
        issued,
        reference_no="KR-2026-AK-007020",
        replaces_reference_no=issued.reference_no,
        original_issue_date=issued.issue_date,
    )
    assert kcs_sends(topology, fixed, "K-fix-after-refusal").PrcsRsltCd == "accepted"
    settle(worker)
    assert state(bridge, issued.reference_no) == "REPLACED"


def test_a_co_refused_at_import_can_be_cancelled(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    refused = tuple(
        ItemDecision(i.item_no, PreferenceDecision.NOT_GIVEN, "direct consignment not shown")
        for i in issued.items
    )
    _answer(topology, worker, issued, refused, "all")
    notice = CancellationNotice(issued.reference_no, "KR", "VN", "refused at import", TODAY)
    assert kcs_sends(topology, notice, "K-cancel-refused").PrcsRsltCd == "accepted"
    settle(worker)
    assert state(bridge, issued.reference_no) == "CANCELLED"


def test_a_co_whose_preference_was_granted_can_only_be_revoked(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    granted = tuple(ItemDecision(i.item_no, PreferenceDecision.GIVEN) for i in issued.items)
    _answer(topology, worker, issued, granted, "granted")
    fixed = dataclasses.replace(
        issued,
        reference_no="KR-2026-AK-007021",
        replaces_reference_no=issued.reference_no,
        original_issue_date=issued.issue_date,
    )
    with pytest.raises(zeep.exceptions.Fault, match="certificate_preference_granted"):
        kcs_sends(topology, fixed, "K-fix-after-grant")
    notice = CancellationNotice(issued.reference_no, "KR", "VN", "too late", TODAY)
    with pytest.raises(zeep.exceptions.Fault, match="certificate_preference_granted"):
        kcs_sends(topology, notice, "K-cancel-after-grant")
    assert state(bridge, issued.reference_no) == "PREFERENCE_GIVEN"


def test_only_the_importing_side_may_answer_for_a_co(
    topology: Topology, bridge: Exchange, issued
) -> None:
    response = CustomsResponse(
        issued.reference_no,
        "KR",
        "VN",
        "X-1",
        TODAY,
        (ItemDecision(1, PreferenceDecision.GIVEN),),
    )
    with pytest.raises(zeep.exceptions.Fault, match="not_authorized"):
        kcs_sends(topology, response, "K-fake-response")  # Korea answering for Viet Nam
    ind = topology.systems["ID-SKA"]
    xml, _, _ = ind.document_for(response)
    with pytest.raises(zeep.exceptions.Fault, match="not_authorized"):
        ind.submit_soap(topology.bridge_url, AMS, ind.envelope_for(response, "ID-x"), xml)


def test_verification_request_and_reply_round_trip(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    request = VerificationRequest(
        issued.reference_no,
        "KR",
        "VN",
        "VN-VR-2026-9",
        "RVC calculation doubtful",
        TODAY,
        default_reply_due(TODAY),
    )
    assert vn_sends(topology, request, "VN-vr").status_code == 200
    settle(worker)
    assert topology.systems["KR-KCS"].received[-1].certificate == request
    assert state(bridge, issued.reference_no) == "VERIFICATION_REQUESTED"
    # not yet due today; three months on, the pilot report says the reply is late
    assert pilot_report(bridge.store, datetime.now(UTC)).overdue_verifications == []
    later = datetime.now(UTC) + timedelta(days=92)
    (late,) = pilot_report(bridge.store, later).overdue_verifications
    assert (late.reference_no, late.request_no) == (issued.reference_no, "VN-VR-2026-9")
    assert late.days_late == (later.date() - request.reply_due).days

    reply = VerificationReply(
        issued.reference_no,
        "KR",
        "VN",
        "VN-VR-2026-9",
        VerificationResult.ORIGINATING,
        TODAY,
        "cost statements checked at the producer",
    )
    assert kcs_sends(topology, reply, "K-vreply").PrcsRsltCd == "accepted"
    settle(worker)
    assert topology.systems["VN-ECOSYS"].received[-1].certificate == reply
    assert state(bridge, issued.reference_no) == "VERIFIED"


def test_retransmission_request_is_served_from_the_bridge_with_the_same_id(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    first_id = vn.received[0].message_id
    request = RetransmissionRequest(issued.reference_no, "KR", "VN", "data lost", TODAY)
    assert vn_sends(topology, request, "VN-rt").status_code == 200
    settle(worker)
    assert vn.hits == 2  # sent again ...
    assert vn.duplicates == 1  # ... with the same message id, so it de-duplicates
    assert topology.systems["KR-KCS"].received == []  # KCS is not bothered
    # the bridge resent the CO's own delivery: a second row, same message id, delivered
    resent = worker.store.deliveries_for(first_id)
    assert [(d["message_id"], d["status"]) for d in resent] == [(first_id, "delivered")] * 2


def test_status_shows_the_whole_timeline_to_both_sides(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    response = CustomsResponse(
        issued.reference_no,
        "KR",
        "VN",
        "VN-IMP-9",
        TODAY,
        (ItemDecision(1, PreferenceDecision.GIVEN), ItemDecision(2, PreferenceDecision.GIVEN)),
    )
    vn_sends(topology, response, "VN-resp-9")
    settle(worker)
    for caller in ("KR-KCS", "VN-ECOSYS"):
        st = bridge.status("KR", issued.reference_no, caller=caller)
        assert st["state"] == "PREFERENCE_GIVEN"
        names = [e["name"] for e in st["events"]]
        assert names.count("received") == 2 and names.count("delivered") == 2
        assert "state_changed" in names


def test_timeline_command_shows_a_corrected_co_with_where_it_came_from(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    from click.testing import CliRunner

    from ak_bridge.cli import cli

    fixed = dataclasses.replace(
        issued,
        reference_no="KR-2026-AK-007102",
        replaces_reference_no=issued.reference_no,
        original_issue_date=issued.issue_date,
    )
    kcs_sends(topology, fixed, "K-tl")
    settle(worker)
    config = str(topology.settings.root / "config")
    out = CliRunner().invoke(cli, ["--config", config, "timeline", "KR", fixed.reference_no])
    assert out.exit_code == 0, out.output
    assert f"chain     {issued.reference_no} -> {fixed.reference_no}" in out.output
    lines = [line.split() for line in out.output.splitlines() if line.startswith("  ")]
    assert [(ln[1], ln[3]) for ln in lines] == [
        (issued.reference_no, "received"),
        (issued.reference_no, "queued"),
        (issued.reference_no, "delivered"),
        (fixed.reference_no, "received"),
        (fixed.reference_no, "queued"),
        (fixed.reference_no, "replaces"),
        (fixed.reference_no, "delivered"),
    ]
    missing = CliRunner().invoke(cli, ["--config", config, "timeline", "KR", "NOPE"])
    assert missing.exit_code == 1


@pytest.mark.parametrize("kind", ["customs response", "retransmission request"])
def test_a_third_country_cannot_tell_whether_a_co_exists(
    topology: Topology, bridge: Exchange, issued, kind: str
) -> None:
    """Indonesia asks about Korea's CO for Viet Nam, and about one that does not exist:
    the two answers are the same but for the reference number."""
    ind = topology.systems["ID-SKA"]

    def ask(ref: str) -> str:
        if kind == "customs response":
            msg = CustomsResponse(
                ref, "KR", "ID", "ID-1", TODAY, (ItemDecision(1, PreferenceDecision.GIVEN),)
            )
        else:
            msg = RetransmissionRequest(ref, "KR", "ID", "lost", TODAY)
        xml, _, _ = ind.document_for(msg)
        with pytest.raises(zeep.exceptions.Fault) as err:
            ind.submit_soap(topology.bridge_url, AMS, ind.envelope_for(msg, f"ID-{ref}"), xml)
        return str(err.value.message).replace(ref, "<ref>")

    existing, missing = ask(issued.reference_no), ask("KR-2026-AK-NOSUCH")
    assert existing == missing
    assert "not_found" in existing


def test_year_9999_dates_get_a_typed_answer_naming_the_box(
    topology: Topology, bridge: Exchange, issued
) -> None:
    """Issue 9 §3: these raised OverflowError / ValueError in the rules' date arithmetic."""
    far = dataclasses.replace(
        issued,
        reference_no="KR-2026-AK-009999",
        transport=dataclasses.replace(issued.transport, departure_date=date(9999, 12, 30)),
    )
    with pytest.raises(zeep.exceptions.Fault, match="validation_failed") as fault:
        kcs_sends(topology, far, "K-9999")
    assert "departure date 9999-12-30 is after today" in fault.value.message
    request = VerificationRequest(
        issued.reference_no,
        "KR",
        "VN",
        "VN-VR-9999",
        "check",
        date(9999, 12, 31),
        date(9999, 12, 31),
    )
    resp = vn_sends(topology, request, "VN-9999")
    assert resp.status_code == 422, resp.text
    (finding,) = resp.json()["error"]["findings"]
    assert (finding["code"], finding["box"]) == ("date_in_future", "header")
