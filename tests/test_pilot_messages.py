"""The e-Form AK 1.1 messages a pilot exchanges (issue 11), through the real servers: the
business receipt (distinct from the technical Ack), the utilisation notice (one CO used
across several declarations; over-use a warning the issuing authority sees) and the
revocation after use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import zeep
from flows import issue_kr_vn, kcs_sends, pilot_11, settle, state, vn_sends

from ak_bridge.config import load_refusal_reasons
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.model import (
    BusinessReceipt,
    BusinessReceiptStatus,
    Clarification,
    CustomsResponse,
    ItemDecision,
    ItemUtilisation,
    PreferenceDecision,
    Reconsideration,
    RevocationNotice,
    UtilisationNotice,
)
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import Topology

TODAY = datetime.now(UTC).date()


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    """Messages 1.1 go only to partners that speak 1.1: Korea and Viet Nam do here."""
    with pilot_11(tmp_path / "exchange") as topo:
        yield topo


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


def test_revocation_only_after_preference_was_granted_and_with_a_reason(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    revocation = RevocationNotice(
        issued.reference_no, "KR", "VN", TODAY, "verification: item 2 not originating"
    )
    # before use a CO is replaced or cancelled, not revoked
    with pytest.raises(zeep.exceptions.Fault, match="certificate_state_conflict"):
        kcs_sends(topology, revocation, "K-rev-early")
    granted = CustomsResponse(
        issued.reference_no,
        "KR",
        "VN",
        "VN-IMP-9",
        TODAY,
        tuple(ItemDecision(i.item_no, PreferenceDecision.GIVEN) for i in issued.items),
    )
    assert vn_sends(topology, granted, "VN-granted").status_code == 200
    # only the issuing authority revokes
    assert vn_sends(topology, revocation, "VN-rev").status_code == 403
    assert kcs_sends(topology, revocation, "K-rev").PrcsRsltCd == "accepted"
    settle(worker)
    assert topology.systems["VN-ECOSYS"].received[-1].certificate == revocation
    assert state(bridge, issued.reference_no) == "REVOKED"
    status = bridge.status("KR", issued.reference_no)
    assert status["state"] == "REVOKED"
    # a revoked CO is no longer live: nothing more is said about its use
    late = CustomsResponse(
        issued.reference_no,
        "KR",
        "VN",
        "VN-IMP-10",
        TODAY,
        (ItemDecision(1, PreferenceDecision.GIVEN),),
    )
    assert vn_sends(topology, late, "VN-late").status_code == 409


def test_refusal_reasons_are_coded_from_the_configured_list(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    assert bridge.settings.refusal_reasons["DC01"].startswith("direct consignment")

    def refusal(code: str, declaration: str) -> CustomsResponse:
        return CustomsResponse(
            issued.reference_no,
            "KR",
            "VN",
            declaration,
            TODAY,
            (
                ItemDecision(1, PreferenceDecision.GIVEN),
                ItemDecision(2, PreferenceDecision.NOT_GIVEN, "no through B/L", code),
            ),
        )

    unknown = vn_sends(topology, refusal("ZZ99", "VN-IMP-20"), "VN-r1")
    assert unknown.status_code == 422
    (finding,) = unknown.json()["error"]["findings"]
    assert (finding["code"], finding["box"]) == ("refusal_reason_unknown", "4")
    assert state(bridge, issued.reference_no) == "TRANSMITTED"  # nothing stored
    coded = refusal("DC01", "VN-IMP-21")
    assert vn_sends(topology, coded, "VN-r2").status_code == 200
    settle(worker)
    assert topology.systems["KR-KCS"].received[-1].certificate == coded  # code and all
    assert state(bridge, issued.reference_no) == "PREFERENCE_NOT_GIVEN"


def test_the_refusal_code_list_is_checked_when_the_config_loads(tmp_path: Path) -> None:
    (tmp_path / "refusal_reasons.toml").write_text('[reasons]\n"dc 01" = "lower case"\n')
    with pytest.raises(ConfigError, match="reasons"):
        load_refusal_reasons(tmp_path)


def test_clarification_after_a_refusal_and_reconsideration_by_import_customs(
    topology: Topology, bridge: Exchange, worker: Exchange, issued
) -> None:
    clarification = Clarification(
        issued.reference_no, "KR", "VN", "VN-IMP-30", TODAY, "the through B/L is attached"
    )
    # nothing to clarify before a refusal
    with pytest.raises(zeep.exceptions.Fault, match="certificate_state_conflict"):
        kcs_sends(topology, clarification, "K-clar-early")
    refused = CustomsResponse(
        issued.reference_no,
        "KR",
        "VN",
        "VN-IMP-30",
        TODAY,
        tuple(
            ItemDecision(i.item_no, PreferenceDecision.NOT_GIVEN, "no through B/L", "DC01")
            for i in issued.items
        ),
    )
    assert vn_sends(topology, refused, "VN-refused").status_code == 200
    assert vn_sends(topology, clarification, "VN-clar").status_code == 403  # the issuer's
    assert kcs_sends(topology, clarification, "K-clar").PrcsRsltCd == "accepted"
    reconsidered = Reconsideration(
        issued.reference_no,
        "KR",
        "VN",
        "VN-IMP-30",
        TODAY,
        tuple(ItemDecision(i.item_no, PreferenceDecision.GIVEN) for i in issued.items),
    )
    with pytest.raises(zeep.exceptions.Fault, match="not_authorized"):
        kcs_sends(topology, reconsidered, "K-recons")  # import customs' decision
    assert vn_sends(topology, reconsidered, "VN-recons").status_code == 200
    settle(worker)
    assert topology.systems["VN-ECOSYS"].received[-1].certificate == clarification
    assert topology.systems["KR-KCS"].received[-1].certificate == reconsidered
    assert state(bridge, issued.reference_no) == "PREFERENCE_GIVEN"
