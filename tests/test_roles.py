"""Partner roles (issue 11): Viet Nam's CO system (eCoSys) as issuing authority only, Viet
Nam's customs as import customs only. A CO for Viet Nam goes to its customs; customs' answers
go to the issuing Party's issuing authority; a partner may only send what its role allows
(typed refusal, audit row, nothing stored). Over the real servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flows import kcs_sends, settle, state

from ak_bridge.core.errors import ConfigError
from ak_bridge.core.model import CustomsResponse, ItemDecision, PreferenceDecision
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import PILOT, PartnerSpec, Topology, build_topology

TODAY = datetime.now(UTC).date()


@pytest.fixture
def split(tmp_path: Path):
    topo = build_topology(
        tmp_path / "roles",
        (*PILOT, PartnerSpec("VN-CUSTOMS", "VN", "rest", "akstd", None)),
        partner_lines={
            "VN-ECOSYS": 'roles = ["issuing_authority"]\n',
            "VN-CUSTOMS": 'roles = ["import_customs"]\n',
        },
    )
    topo.start_bridge()
    yield topo
    topo.stop()


def _response(ref: str) -> CustomsResponse:
    return CustomsResponse(
        ref, "KR", "VN", "VN-IMP-77", TODAY, (ItemDecision(1, PreferenceDecision.GIVEN),)
    )


def test_a_co_goes_to_import_customs_and_customs_answers_the_issuing_authority(
    split: Topology,
) -> None:
    bridge, worker = split.exchanges[0], split.worker_exchange()
    co = sample_form_ak("KR-2026-AK-009001", "KR", "VN", TODAY - timedelta(days=1))
    assert kcs_sends(split, co, "K-1").PrcsRsltCd == "accepted"
    settle(worker)
    assert [r.certificate for r in split.systems["VN-CUSTOMS"].received] == [co]
    assert split.systems["VN-ECOSYS"].received == []  # the CO system is not import customs

    reply = split.systems["VN-CUSTOMS"].submit(split.bridge_url, _response(co.reference_no), "C1")
    assert reply.status_code == 200, reply.text
    settle(worker)
    assert split.systems["KR-KCS"].received[-1].certificate == _response(co.reference_no)
    assert state(bridge, co.reference_no) == "PREFERENCE_GIVEN"


def test_a_partner_may_only_send_what_its_role_allows(split: Topology) -> None:
    bridge, worker = split.exchanges[0], split.worker_exchange()
    co = sample_form_ak("KR-2026-AK-009002", "KR", "VN", TODAY - timedelta(days=1))
    assert kcs_sends(split, co, "K-2").PrcsRsltCd == "accepted"
    settle(worker)
    # Viet Nam's CO system is not its customs: it may not answer for the CO ...
    resp = split.systems["VN-ECOSYS"].submit(split.bridge_url, _response(co.reference_no), "E1")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "not_authorized"
    assert "import_customs" in resp.json()["error"]["message"]
    (row,) = bridge.store.audit_events("rejected", limit=1)
    assert (row["code"], row["partner"]) == ("not_authorized", "VN-ECOSYS")
    # ... and Viet Nam's customs does not issue certificates.
    vn_co = sample_form_ak("VN-2026-AK-009003", "VN", "KR", TODAY)
    resp = split.systems["VN-CUSTOMS"].submit(split.bridge_url, vn_co, "C2")
    assert resp.status_code == 403
    assert "issuing_authority" in resp.json()["error"]["message"]
    assert bridge.store.certificate("VN", vn_co.reference_no) is None  # nothing stored
    assert state(bridge, co.reference_no) == "TRANSMITTED"


def test_roles_are_checked_when_the_config_loads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="partners.VN-ECOSYS.roles"):
        build_topology(tmp_path / "bad", partner_lines={"VN-ECOSYS": 'roles = ["exporter"]\n'})
