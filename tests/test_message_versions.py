"""Version negotiation for the lifecycle messages (issue 11, left open there): a message goes
at the highest version its destination speaks, and one the destination cannot read in any
version it speaks (a message 1.1 adds, a reason code, attachments) is refused at intake with
``version_not_lossless`` naming the box, audited, nothing stored: a receipt means deliverable.

A sender, too, may only use the versions it speaks: a 1.1 message from a 1.0-only partner is
``schema_violation`` (header), like a 1.1 certificate from it.

Through the real servers: Viet Nam (REST) and Korea speak 1.0 and 1.1, Indonesia only 1.0.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zeep
from flows import pilot_11, settle, state, vn_sends
from lxml import etree

from ak_bridge.core.errors import VersionNotLossless
from ak_bridge.core.model import (
    Attachment,
    CertificateState,
    CustomsResponse,
    FormAK,
    ItemDecision,
    ItemUtilisation,
    LifecycleMessage,
    PreferenceDecision,
    RevocationNotice,
    StatusResponse,
    UtilisationNotice,
    VerificationReply,
    VerificationRequest,
    VerificationResult,
)
from ak_bridge.core.rules import default_reply_due
from ak_bridge.core.versions import message_version
from ak_bridge.formats.lifecycle import MESSAGES_NS, MESSAGES_NS_11, LifecycleCodec
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS

TODAY = datetime.now(UTC).date()
PDF = Attachment("form.pdf", "application/pdf", b"%PDF-1.7 signed form")


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    with pilot_11(tmp_path / "exchange") as topo:
        yield topo


def id_sends(topo: Topology, doc: Any, message_id: str) -> Any:
    return topo.systems["ID-SKA"].submit(topo.bridge_url, doc, message_id)


def issued(topo: Topology, worker: Exchange, ref: str, issuer: str, importer: str) -> FormAK:
    co = sample_form_ak(ref, issuer[:2], importer[:2], TODAY - timedelta(days=2))
    topo.systems[issuer].submit(topo.bridge_url, co, f"{ref}-issue")
    settle(worker)
    assert [r.certificate for r in topo.systems[importer].received] == [co]
    return co


def namespace(raw: bytes) -> str:
    return etree.QName(etree.fromstring(raw)).namespace or ""


def refused_for_indonesia(
    topo: Topology, bridge: Exchange, worker: Exchange, msg: LifecycleMessage, box: str
) -> None:
    """Viet Nam sends ``msg`` for Indonesia: refused, audited, nothing stored or sent."""
    stored = len(bridge.store.find_messages())
    before = state(bridge, msg.reference_no, msg.issuing_country)
    answer = vn_sends(topo, msg, f"VN-{type(msg).__name__}-{box}")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["box"]) == ("version_not_lossless", box)
    assert "ID-SKA (e-Form AK 1.0)" in error["message"]
    [row] = bridge.store.audit_events("rejected", limit=1)
    assert (row.code, row.box, row.partner) == ("version_not_lossless", box, "VN-ECOSYS")
    assert len(bridge.store.find_messages()) == stored  # no receipt, nothing half stored
    assert state(bridge, msg.reference_no, msg.issuing_country) == before
    received = len(topo.systems["ID-SKA"].received)
    settle(worker)
    assert len(topo.systems["ID-SKA"].received) == received


def test_a_revocation_for_a_1_0_partner_is_refused_and_a_1_1_partner_gets_1_1(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    co = issued(topology, worker, "VN-2026-AK-070001", "VN-ECOSYS", "ID-SKA")
    ref = co.reference_no
    granted = CustomsResponse(
        ref, "VN", "ID", "ID-IMP-1", TODAY, (ItemDecision(1, PreferenceDecision.GIVEN),)
    )
    assert id_sends(topology, granted, "ID-granted").Status == "accepted"
    settle(worker)
    [got] = topology.systems["VN-ECOSYS"].received
    assert got.certificate == granted
    # a 1.0 message in 1.1 too: the highest version Viet Nam speaks
    assert namespace(got.raw) == MESSAGES_NS_11
    revocation = RevocationNotice(ref, "VN", "ID", TODAY, "verification: not originating")
    refused_for_indonesia(topology, bridge, worker, revocation, "header")
    assert state(bridge, ref, "VN") == "PREFERENCE_GIVEN"


def test_attachments_are_refused_for_a_1_0_partner_the_reply_without_goes_in_1_0(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    co = issued(topology, worker, "VN-2026-AK-070002", "VN-ECOSYS", "ID-SKA")
    ref = co.reference_no
    request = VerificationRequest(
        ref, "VN", "ID", "ID-VR-1", "RVC doubtful", TODAY, default_reply_due(TODAY)
    )
    assert id_sends(topology, request, "ID-vr").Status == "accepted"
    reply = VerificationReply(
        ref, "VN", "ID", "ID-VR-1", VerificationResult.ORIGINATING, TODAY, attachments=(PDF,)
    )
    refused_for_indonesia(topology, bridge, worker, reply, "header")
    plain = VerificationReply(ref, "VN", "ID", "ID-VR-1", VerificationResult.ORIGINATING, TODAY)
    assert vn_sends(topology, plain, "VN-reply").status_code == 200
    settle(worker)
    got = topology.systems["ID-SKA"].received[-1]
    assert got.certificate == plain
    assert namespace(got.raw) == MESSAGES_NS  # the highest version Indonesia speaks


def test_a_reason_code_names_box_4_and_a_utilisation_notice_the_header(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    co = issued(topology, worker, "ID-2026-AK-070003", "ID-SKA", "VN-ECOSYS")
    ref = co.reference_no
    coded = CustomsResponse(
        ref,
        "ID",
        "VN",
        "VN-IMP-1",
        TODAY,
        (ItemDecision(1, PreferenceDecision.NOT_GIVEN, "no through B/L", "DC01"),),
    )
    refused_for_indonesia(topology, bridge, worker, coded, "4")
    used = UtilisationNotice(
        ref, "ID", "VN", "VN-IMP-2", TODAY, (ItemUtilisation(1, Decimal("1"), "KGM"),)
    )
    refused_for_indonesia(topology, bridge, worker, used, "header")
    uncoded = CustomsResponse(
        ref,
        "ID",
        "VN",
        "VN-IMP-1",
        TODAY,
        (ItemDecision(1, PreferenceDecision.NOT_GIVEN, "no through B/L"),),
    )
    assert vn_sends(topology, uncoded, "VN-uncoded").status_code == 200
    settle(worker)
    got = topology.systems["ID-SKA"].received[-1]
    assert (got.certificate, namespace(got.raw)) == (uncoded, MESSAGES_NS)
    assert state(bridge, ref, "ID") == "PREFERENCE_NOT_GIVEN"


# -- the rule in the core and the codec ------------------------------------------------------

REF = ("KR-2026-AK-070004", "KR", "VN")


@pytest.mark.parametrize(
    ("msg", "box"),
    [
        (RevocationNotice(*REF, TODAY, "not originating"), "header"),
        (StatusResponse(*REF, CertificateState.REVOKED), "header"),
        (
            CustomsResponse(
                *REF, "D-1", TODAY, (ItemDecision(1, PreferenceDecision.NOT_GIVEN, "x", "DC01"),)
            ),
            "4",
        ),
        (
            VerificationReply(
                *REF, "R-1", VerificationResult.ORIGINATING, TODAY, attachments=(PDF,)
            ),
            "header",
        ),
    ],
)
def test_what_only_1_1_says_is_refused_for_1_0_and_carried_by_1_1(
    msg: LifecycleMessage, box: str
) -> None:
    codec = LifecycleCodec()
    with pytest.raises(VersionNotLossless) as err:
        message_version(msg, "ID-SKA", ("1.0",))
    assert (err.value.code, err.value.box) == ("version_not_lossless", box)
    with pytest.raises(VersionNotLossless):
        codec.encode(msg, "1.0")
    assert message_version(msg, "KR-KCS", ("1.0", "1.1")) == "1.1"
    assert codec.decode(codec.encode(msg, "1.1")) == msg


def test_a_1_0_message_goes_in_either_version() -> None:
    codec = LifecycleCodec()
    msg = StatusResponse(*REF, CertificateState.VERIFIED)
    assert message_version(msg, "ID-SKA", ("1.0",)) == "1.0"
    for version, ns in (("1.0", MESSAGES_NS), ("1.1", MESSAGES_NS_11)):
        root = codec.encode(msg, version)
        assert (etree.QName(root).namespace, codec.decode(root)) == (ns, msg)
    assert etree.QName(codec.encode(msg)).namespace == MESSAGES_NS  # unasked: the oldest


# -- a sender may only use the versions it speaks ---------------------------------------------


def test_a_1_0_only_partner_cannot_send_1_1_messages(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    """Indonesia speaks only 1.0: a message 1.1 adds (a utilisation notice), or a 1.0 message
    written in the 1.1 namespace, is refused like a 1.1 certificate from it (schema_violation,
    header, naming its standard_versions), audited, nothing stored or sent; in 1.0 it goes."""
    co = issued(topology, worker, "VN-2026-AK-070005", "VN-ECOSYS", "ID-SKA")
    ref = co.reference_no
    ind = topology.systems["ID-SKA"]
    used = UtilisationNotice(
        ref, "VN", "ID", "ID-IMP-5", TODAY, (ItemUtilisation(1, Decimal("1"), "KGM"),)
    )
    response = CustomsResponse(
        ref, "VN", "ID", "ID-IMP-5", TODAY, (ItemDecision(1, PreferenceDecision.GIVEN),)
    )
    as_11 = ind.signer.sign(LifecycleCodec().encode(response, "1.1"))
    for n, (msg, xml) in enumerate(((used, ind.document_for(used)[0]), (response, as_11))):
        assert namespace(xml) == MESSAGES_NS_11
        stored = len(bridge.store.find_messages())
        with pytest.raises(zeep.exceptions.Fault) as fault:
            ind.submit_soap(topology.bridge_url, AMS, ind.envelope_for(msg, f"ID-11-{n}"), xml)
        detail = etree.tostring(fault.value.detail).decode()
        assert "schema_violation" in detail and "header" in detail
        assert "ID-SKA speaks e-Form AK 1.0" in str(fault.value.message)
        assert "standard_versions" in str(fault.value.message)
        [row] = bridge.store.audit_events("rejected", limit=1)
        assert (row.code, row.box, row.partner) == ("schema_violation", "header", "ID-SKA")
        assert f"{type(msg).__name__} message is 1.1" in (row.detail or "")
        assert len(bridge.store.find_messages()) == stored
        assert state(bridge, ref, "VN") == "TRANSMITTED"
    received = len(topology.systems["VN-ECOSYS"].received)
    settle(worker)
    assert len(topology.systems["VN-ECOSYS"].received) == received  # nothing was sent
    assert id_sends(topology, response, "ID-10").Status == "accepted"  # the same in 1.0
    assert state(bridge, ref, "VN") == "PREFERENCE_GIVEN"
