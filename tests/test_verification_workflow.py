"""The verification workflow after the request (issue 11, e-Form AK 1.1), over the real
servers: the issuing authority acknowledges the request, import customs asks for documents,
the issuing authority extends its reply date, import customs determines per item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import zeep
from flows import issue_kr_vn, kcs_sends, settle, state, vn_sends

from ak_bridge.core.model import (
    DeterminationResult,
    DocumentsRequest,
    ItemDetermination,
    VerificationDetermination,
    VerificationExtension,
    VerificationRequest,
)
from ak_bridge.core.rules import default_reply_due
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import Topology

TODAY = datetime.now(UTC).date()
REQUEST = "VN-VR-2026-77"


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
