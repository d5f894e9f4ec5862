"""Acknowledgements both ways (issue 11, point 9): an Ack is the recipient's receipt of one
message, from either side; a rejected Ack moves nothing; the issuing authority's receipt of a
verification request starts its 2-month reply clock. Over the real servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import zeep
from flows import issue_kr_vn, kcs_sends, settle, state, vn_sends

from ak_bridge.core.errors import Finding, Severity
from ak_bridge.core.model import Ack, AckStatus, VerificationRequest
from ak_bridge.core.rules import default_reply_due
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS

TODAY = datetime.now(UTC).date()


@pytest.fixture
def issued(topology: Topology, bridge: Exchange, worker: Exchange):
    """A KR→VN certificate, delivered to Viet Nam."""
    return issue_kr_vn(topology, worker, "KR-2026-AK-008001")


def _co_message_id(topology: Topology) -> str:
    return topology.systems["VN-ECOSYS"].received[0].message_id


def test_a_positive_ack_of_the_co_acknowledges_it_and_reaches_the_issuer(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    ack = Ack(issued.reference_no, "KR", "VN", _co_message_id(topology), AckStatus.RECEIVED)
    assert vn_sends(topology, ack, "VN-ack").status_code == 200
    settle(worker)
    assert topology.systems["KR-KCS"].received[-1].certificate == ack
    assert state(bridge, issued.reference_no) == "ACKNOWLEDGED"


def test_a_rejected_ack_does_not_acknowledge_the_co(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    ack = Ack(
        issued.reference_no,
        "KR",
        "VN",
        _co_message_id(topology),
        AckStatus.REJECTED,
        (Finding("certificate_mismatch", "11", "not addressed to us", Severity.ERROR),),
    )
    assert vn_sends(topology, ack, "VN-nack").status_code == 200
    settle(worker)
    assert topology.systems["KR-KCS"].received[-1].certificate == ack  # the issuer learns it
    assert state(bridge, issued.reference_no) == "TRANSMITTED"
    events = [e["name"] for e in bridge.status("KR", issued.reference_no)["events"]]
    assert "acknowledged_rejected" in events


def test_the_issuing_authority_acknowledges_a_verification_request_and_starts_its_clock(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    request = VerificationRequest(
        issued.reference_no,
        "KR",
        "VN",
        "VN-VR-2026-31",
        "RVC calculation doubtful",
        TODAY,
        default_reply_due(TODAY),
    )
    assert vn_sends(topology, request, "VN-vr").status_code == 200
    settle(worker)
    kcs = topology.systems["KR-KCS"]
    request_id = kcs.received[-1].message_id
    ack = Ack(issued.reference_no, "KR", "VN", request_id, AckStatus.RECEIVED)
    assert kcs_sends(topology, ack, "K-ack-vr").PrcsRsltCd == "accepted"
    settle(worker)
    assert topology.systems["VN-ECOSYS"].received[-1].certificate == ack
    assert state(bridge, issued.reference_no) == "VERIFICATION_REQUESTED"  # not ACKNOWLEDGED
    (clock,) = [
        e
        for e in bridge.status("KR", issued.reference_no)["events"]
        if e["name"] == "verification_request_received"
    ]
    assert f"reply due {default_reply_due(datetime.now(UTC).date())}" in clock["detail"]


def test_only_the_recipient_of_a_message_may_acknowledge_it(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    # Korea sent the CO; it cannot acknowledge its own message (Viet Nam received it) ...
    own = Ack(issued.reference_no, "KR", "VN", _co_message_id(topology), AckStatus.RECEIVED)
    with pytest.raises(zeep.exceptions.Fault, match="not_found"):
        kcs_sends(topology, own, "K-self-ack")
    # ... and a third country is on neither side of the CO.
    ind = topology.systems["ID-SKA"]
    xml, _, _ = ind.document_for(own)
    with pytest.raises(zeep.exceptions.Fault, match="not_authorized"):
        ind.submit_soap(topology.bridge_url, AMS, ind.envelope_for(own, "ID-ack"), xml)
    assert state(bridge, issued.reference_no) == "TRANSMITTED"
