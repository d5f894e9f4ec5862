"""The header names the agreement (issue 11): AKFTA is processed, a 1.0 header without one
means AKFTA, another FTA (IK-CEPA on Indonesia's channel, VKFTA on Viet Nam's) is refused
with ``agreement_not_handled`` naming it, or passed raw to the gateway configured for it.
Over SOAP and REST, through the real servers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zeep
from flows import settle

from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import AMS

TODAY = datetime.now(UTC).date()


def test_another_agreement_is_refused_over_soap_naming_it(
    topology: Topology, bridge: Exchange
) -> None:
    ind = topology.systems["ID-SKA"]
    co = sample_form_ak("0101/SKA-AK/JKT/2026", "ID", "KR", TODAY)
    xml, _, _ = ind.document_for(co)
    env = dataclasses.replace(ind.envelope_for(co, "ID-IK1"), agreement="IKCEPA")
    with pytest.raises(zeep.exceptions.Fault) as err:
        ind.submit_soap(topology.bridge_url, AMS, env, xml)
    code = err.value.detail.find(f".//{AMS.q(AMS.f('code'))}").text
    assert code == "agreement_not_handled"
    assert "IKCEPA" in err.value.message
    (row,) = bridge.store.audit_events("rejected", limit=1)
    assert (row["code"], row["box"]) == ("agreement_not_handled", "header")
    assert bridge.store.certificate("ID", co.reference_no) is None  # nothing stored


def test_another_agreement_is_refused_over_rest_and_akfta_named_is_processed(
    topology: Topology, bridge: Exchange
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak("VN-2026-AK-000101", "VN", "KR", TODAY)
    _, doc, signature = vn.document_for(co)
    env = vn.envelope_for(co, "VN-VK1")
    resp = vn.submit_rest(
        topology.bridge_url, dataclasses.replace(env, agreement="VKFTA"), doc, signature
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "agreement_not_handled"
    assert "VKFTA" in resp.json()["error"]["message"]
    assert bridge.store.certificate("VN", co.reference_no) is None
    resp = vn.submit_rest(
        topology.bridge_url, dataclasses.replace(env, agreement="AKFTA"), doc, signature
    )
    assert resp.status_code == 200, resp.text
    assert bridge.store.certificate("VN", co.reference_no) is not None


def test_another_agreement_is_passed_raw_to_its_configured_gateway(tmp_path: Path) -> None:
    topo = build_topology(
        tmp_path / "ik",
        asw=True,
        partner_lines={"ASW": 'gateway_for_agreements = ["IKCEPA"]\n'},
    )
    try:
        topo.start_bridge()
        worker = topo.worker_exchange()
        ind = topo.systems["ID-SKA"]
        co = sample_form_ak("0102/SKA-IK/JKT/2026", "ID", "KR", TODAY)
        xml, _, _ = ind.document_for(co)
        env = dataclasses.replace(ind.envelope_for(co, "ID-IK2"), agreement="ikcepa")
        reply = ind.submit_soap(topo.bridge_url, AMS, env, xml)
        assert reply.Status == "forwarded_to_gateway"
        settle(worker)
        assert topo.asw is not None
        assert topo.asw.received == [(xml, reply.MessageId)]  # the very bytes
        assert topo.systems["KR-KCS"].received == []  # never processed as AKFTA
        events = [e["event"] for e in worker.store.audit_for(reply.MessageId)]
        assert "agreement_forwarded" in events
        assert worker.store.certificate("ID", co.reference_no) is None
    finally:
        topo.stop()
