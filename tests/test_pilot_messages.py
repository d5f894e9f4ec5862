"""The e-Form AK 1.1 messages a pilot exchanges (issue 11), through the real servers: the
business receipt (distinct from the technical Ack) and the utilisation notice (one CO used
across several declarations; over-use a warning the issuing authority sees)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import zeep
from flows import issue_kr_vn, kcs_sends, settle, state, vn_sends

from ak_bridge.core.model import (
    BusinessReceipt,
    BusinessReceiptStatus,
    ItemUtilisation,
    UtilisationNotice,
)
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import Topology

TODAY = datetime.now(UTC).date()


@pytest.fixture
def issued(topology: Topology, bridge: Exchange, worker: Exchange):
    return issue_kr_vn(topology, worker, "KR-2026-AK-010001")


def test_a_business_receipt_reaches_the_issuer_and_moves_nothing(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    co_message = topology.systems["VN-ECOSYS"].received[0].message_id
    receipt = BusinessReceipt(
        issued.reference_no, "KR", "VN", co_message, BusinessReceiptStatus.REGISTERED, TODAY
    )
    assert vn_sends(topology, receipt, "VN-br").status_code == 200
    settle(worker)
    assert topology.systems["KR-KCS"].received[-1].certificate == receipt
    assert state(bridge, issued.reference_no) == "TRANSMITTED"  # not a technical Ack
    # only the recipient of the message may give its business receipt
    with pytest.raises(zeep.exceptions.Fault, match="not_found"):
        kcs_sends(topology, receipt, "K-br")


def _notice(ref: str, declaration: str, kilos: str) -> UtilisationNotice:
    return UtilisationNotice(
        ref, "KR", "VN", declaration, TODAY, (ItemUtilisation(2, Decimal(kilos), "KGM"),)
    )


def test_utilisation_across_declarations_warns_on_over_use(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    first = vn_sends(topology, _notice(issued.reference_no, "VN-IMP-1", "300"), "VN-u1")
    assert first.status_code == 200 and first.json()["findings"] == []
    # 300 + 300 kg of item 2, whose Box 9 shows 550 kg: carried, with a warning
    second = vn_sends(topology, _notice(issued.reference_no, "VN-IMP-2", "300"), "VN-u2")
    assert second.status_code == 200
    (warning,) = second.json()["findings"]
    assert (warning["code"], warning["box"], warning["severity"]) == (
        "over_utilisation",
        "9",
        "warning",
    )
    assert "600 KGM used" in warning["message"] and "Box 9 shows 550" in warning["message"]
    settle(worker)
    kcs = topology.systems["KR-KCS"]
    assert [r.certificate.import_declaration_no for r in kcs.received[-2:]] == [
        "VN-IMP-1",
        "VN-IMP-2",
    ]
    # only import customs reports utilisation
    with pytest.raises(zeep.exceptions.Fault, match="not_authorized"):
        kcs_sends(topology, _notice(issued.reference_no, "VN-IMP-3", "1"), "K-u")
