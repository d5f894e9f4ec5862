"""The verification workflow after the request (issue 11, e-Form AK 1.1), over the real
servers: the issuing authority acknowledges the request, import customs asks for documents,
the issuing authority extends its reply date, import customs determines per item."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zeep
from flows import issue_kr_vn, kcs_sends, pilot_11, settle, state, vn_sends

from ak_bridge.core.lifecycle import content_json
from ak_bridge.core.model import (
    Attachment,
    DeterminationResult,
    DocumentsRequest,
    ItemDetermination,
    VerificationDetermination,
    VerificationExtension,
    VerificationReply,
    VerificationRequest,
    VerificationResult,
)
from ak_bridge.core.rules import default_reply_due
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import Topology

TODAY = datetime.now(UTC).date()
REQUEST = "VN-VR-2026-77"


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    """Messages 1.1 go only to partners that speak 1.1: Korea and Viet Nam do here."""
    with pilot_11(tmp_path / "exchange") as topo:
        yield topo


def test_documents_extension_and_final_determination_per_item(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    co = issue_kr_vn(topology, worker, "KR-2026-AK-011001")
    ref = co.reference_no
    documents = DocumentsRequest(
        ref, "KR", "VN", REQUEST, TODAY, "cost statement of item 2", TODAY + timedelta(days=30)
    )
    # nothing to ask documents for before a verification was requested
    assert vn_sends(topology, documents, "VN-docs-early").status_code == 409
    request = VerificationRequest(
        ref, "KR", "VN", REQUEST, "RVC doubtful", TODAY, default_reply_due(TODAY)
    )
    assert vn_sends(topology, request, "VN-vr").status_code == 200
    assert vn_sends(topology, documents, "VN-docs").status_code == 200
    extension = VerificationExtension(
        ref, "KR", "VN", REQUEST, default_reply_due(TODAY) + timedelta(days=30), "visit needed"
    )
    # the extension is the issuing authority's, the determination import customs'
    assert vn_sends(topology, extension, "VN-ext").status_code == 403
    assert kcs_sends(topology, extension, "K-ext").PrcsRsltCd == "accepted"
    determination = VerificationDetermination(
        ref,
        "KR",
        "VN",
        REQUEST,
        TODAY,
        (
            ItemDetermination(1, DeterminationResult.ORIGINATING),
            ItemDetermination(2, DeterminationResult.NOT_AUTHENTIC, "seal does not match"),
        ),
    )
    with pytest.raises(zeep.exceptions.Fault, match="not_authorized"):
        kcs_sends(topology, determination, "K-det")
    assert state(bridge, ref) == "VERIFICATION_REQUESTED"
    assert vn_sends(topology, determination, "VN-det").status_code == 200
    settle(worker)
    kcs = [r.certificate for r in topology.systems["KR-KCS"].received]
    assert kcs[-3:] == [request, documents, determination]
    assert topology.systems["VN-ECOSYS"].received[-1].certificate == extension
    assert state(bridge, ref) == "VERIFIED"


def test_a_reply_carries_a_signed_pdf_attachment_to_import_customs(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    co = issue_kr_vn(topology, worker, "KR-2026-AK-011002")
    request = VerificationRequest(
        co.reference_no, "KR", "VN", "VN-VR-2026-78", "doubt", TODAY, default_reply_due(TODAY)
    )
    assert vn_sends(topology, request, "VN-vr2").status_code == 200
    pdf = Attachment("cost-statement.pdf", "application/pdf", b"%PDF-1.7 cost statement")
    reply = VerificationReply(
        co.reference_no,
        "KR",
        "VN",
        "VN-VR-2026-78",
        VerificationResult.ORIGINATING,
        TODAY,
        "cost statement attached",
        (pdf,),
    )
    reply_id = kcs_sends(topology, reply, "K-reply-pdf").MsgId
    settle(worker)
    assert topology.systems["VN-ECOSYS"].received[-1].certificate == reply
    # kept as received, signature and attachment together, for the evidence package
    stored = bridge.store.message(reply_id)
    assert stored is not None and stored.raw is not None
    assert base64.b64encode(pdf.content) in stored.raw


def test_an_attachment_is_stored_as_base64_in_the_canonical_json() -> None:
    pdf = Attachment("a.pdf", "application/pdf", b"%PDF-1.7")
    reply = VerificationReply(
        "KR-1", "KR", "VN", "V-1", VerificationResult.ORIGINATING, TODAY, None, (pdf,)
    )
    body, _ = content_json(reply)
    assert json.loads(body)["attachments"][0]["content"] == base64.b64encode(pdf.content).decode()
