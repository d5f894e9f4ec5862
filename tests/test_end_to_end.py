"""A Form AK crosses the bridge for real: zeep or REST in, signed, translated, delivered.

The bridge runs as a real Flask server on loopback; KCS, Indonesia and Viet Nam are real
servers that verify the bridge's signature themselves; the store is a real SQLite file.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from datetime import UTC, datetime

import pytest
import requests
import zeep
from flows import settle
from lxml import etree

from ak_bridge.adapters.web import soap
from ak_bridge.core.model import DocumentType
from ak_bridge.security.signing import Verifier, load_trusted
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS, KCS

TODAY = datetime.now(UTC).date()


def counts(ex: Exchange) -> tuple[int, int]:
    db = ex.store.db
    return (
        db.execute("SELECT count(*) FROM messages").fetchone()[0],
        db.execute("SELECT count(*) FROM deliveries").fetchone()[0],
    )


def last_rejection(ex: Exchange) -> dict:
    rows = ex.store.audit_events("rejected", limit=1)
    assert rows, "the rejection was not audited"
    return rows[0]


def fault_code(fault: zeep.exceptions.Fault, contract=AMS) -> str:
    return fault.detail.find(f".//{contract.q(contract.f('code'))}").text


def fault_box(fault: zeep.exceptions.Fault, contract=AMS) -> str | None:
    el = fault.detail.find(f".//{contract.q(contract.f('box'))}")
    return el.text if el is not None else None


def test_kcs_to_indonesia_over_soap_arrives_signed_and_translated(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    kcs, indonesia = topology.systems["KR-KCS"], topology.systems["ID-SKA"]
    co = sample_form_ak("KR-2026-AK-000777", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    reply = kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "KCS-1"), xml)
    assert reply.PrcsRsltCd == "accepted"
    message_id = reply.MsgId

    settle(worker)

    assert [r.message_id for r in indonesia.received] == [message_id]
    got = indonesia.received[0]
    assert got.certificate == co  # lossless through UNI-PASS → canonical → Indonesian XML
    root = etree.fromstring(got.raw)
    assert etree.QName(root).localname != etree.QName(etree.fromstring(xml)).localname
    # The bridge signed it; verify independently with the bridge's pinned certificate.
    bridge_cert = topology.settings.identity_cert
    signed = Verifier(load_trusted([bridge_cert])).verify(got.raw)
    assert etree.QName(signed) == etree.QName(root)
    # KCS's own key did not sign what Indonesia got.
    kcs_cert = topology.settings.partners["KR-KCS"].certificates[0]
    with pytest.raises(Exception, match="not pinned"):
        Verifier(load_trusted([kcs_cert])).verify(got.raw)
    state = bridge.status("KR", co.reference_no)
    assert state["state"] == "TRANSMITTED"


def test_viet_nam_to_korea_over_rest_arrives_at_kcs(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    vn, kcs = topology.systems["VN-ECOSYS"], topology.systems["KR-KCS"]
    co = sample_form_ak("VN-KR 26/01/00042", "VN", "KR", TODAY)
    _, doc, sig = vn.document_for(co)
    resp = vn.submit_rest(topology.bridge_url, vn.envelope_for(co, "VN-1"), doc, sig)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"
    settle(worker)
    assert len(kcs.received) == 1
    assert kcs.received[0].certificate == co
    assert kcs.received[0].message_id == resp.json()["messageId"]


def test_indonesia_to_korea_over_ams_soap(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    ind, kcs = topology.systems["ID-SKA"], topology.systems["KR-KCS"]
    co = sample_form_ak("0001/SKA-AK/JKT/2026", "ID", "KR", TODAY)
    xml, _, _ = ind.document_for(co)
    reply = ind.submit_soap(topology.bridge_url, AMS, ind.envelope_for(co, "ID-1"), xml)
    assert reply.Status == "accepted"
    settle(worker)
    assert [r.certificate for r in kcs.received] == [co]


def test_receiver_down_then_delivered_on_retry_with_the_same_message_id(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    vn, kcs = topology.systems["VN-ECOSYS"], topology.systems["KR-KCS"]
    vn.stop()
    co = sample_form_ak("KR-2026-AK-000102", "KR", "VN", TODAY)
    xml, _, _ = kcs.document_for(co)
    message_id = kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K2"), xml).MsgId

    report = worker.deliver_due()
    assert (report.delivered, report.retrying) == (0, 1)
    (delivery,) = worker.store.deliveries_for(message_id)
    assert delivery["status"] == "waiting_retry"
    assert delivery["last_failure_class"] == "transport"

    vn.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not vn.received:
        worker.deliver_due()
        time.sleep(0.1)
    assert vn.unique_message_ids() == [message_id]
    (delivery,) = worker.store.deliveries_for(message_id)
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 2
    outcomes = [a["outcome"] for a in worker.store.attempts_for(delivery["id"])]
    assert outcomes == ["waiting_retry", "delivered"]


def test_business_rejection_by_partner_is_a_dead_letter_without_retry(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    kcs, ind = topology.systems["KR-KCS"], topology.systems["ID-SKA"]
    ind.mode = "fault"
    co = sample_form_ak("KR-2026-AK-000900", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    message_id = kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K9"), xml).MsgId
    settle(worker)
    (delivery,) = worker.store.deliveries_for(message_id)
    assert (delivery["status"], delivery["attempts"]) == ("dead", 1)
    assert delivery["last_failure_class"] == "fault"
    assert ind.hits == 1


def test_wsdl_is_served_with_the_running_address_and_zeep_can_use_it(
    topology: Topology, bridge: Exchange
) -> None:
    for contract in (KCS, AMS):
        url = f"{topology.bridge_url}{contract.path}?wsdl"
        tree = etree.fromstring(requests.get(url, timeout=5).content)
        address = tree.find(f".//{{{soap.NS_WSDL_SOAP}}}address").get("location")
        assert address == f"{topology.bridge_url}{contract.path}"
        client = zeep.Client(url)
        assert contract.submit in dir(client.service)


# -- refusals: typed code, audited, nothing half stored ---------------------------------


def test_bad_signature_is_refused_and_nothing_is_stored(
    topology: Topology, bridge: Exchange
) -> None:
    kcs = topology.systems["KR-KCS"]
    co = sample_form_ak("KR-2026-AK-000201", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    tampered = xml.replace(co.exporter.name.encode(), b"Forged Exporter Co.", 1)
    assert tampered != xml
    before = counts(bridge)
    with pytest.raises(zeep.exceptions.Fault) as err:
        kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K3"), tampered)
    assert fault_code(err.value, KCS) == "signature_invalid"
    assert counts(bridge) == before
    assert last_rejection(bridge)["code"] == "signature_invalid"


def test_document_signed_by_another_partner_is_refused(
    topology: Topology, bridge: Exchange
) -> None:
    ind, kcs = topology.systems["ID-SKA"], topology.systems["KR-KCS"]
    co = sample_form_ak("0005/SKA-AK/JKT/2026", "ID", "KR", TODAY)
    # Indonesia's document, but signed with KCS's key: not Indonesia's pinned certificate.
    forged = kcs.signer.sign(ind.codec.encode(co))
    before = counts(bridge)
    with pytest.raises(zeep.exceptions.Fault) as err:
        ind.submit_soap(topology.bridge_url, AMS, ind.envelope_for(co, "ID-5"), forged)
    assert fault_code(err.value) == "signature_invalid"
    assert counts(bridge) == before
    rejection = last_rejection(bridge)
    assert (rejection["code"], rejection["partner"]) == ("signature_invalid", "ID-SKA")


def test_unknown_partner_is_refused(topology: Topology, bridge: Exchange) -> None:
    ind = topology.systems["ID-SKA"]
    co = sample_form_ak("0006/SKA-AK/JKT/2026", "ID", "KR", TODAY)
    xml, _, _ = ind.document_for(co)
    env = ind.envelope_for(co, "X-1")
    env = type(env)(**{**env.__dict__, "sender": "XX-NOBODY"})
    before = counts(bridge)
    with pytest.raises(zeep.exceptions.Fault) as err:
        ind.submit_soap(topology.bridge_url, AMS, env, xml)
    assert fault_code(err.value) == "unknown_partner"
    assert fault_box(err.value) == "header"
    assert counts(bridge) == before
    rejection = last_rejection(bridge)
    assert (rejection["code"], rejection["partner"]) == ("unknown_partner", "XX-NOBODY")


def test_form_d_is_refused_with_an_error_that_points_to_the_asw(
    topology: Topology, bridge: Exchange
) -> None:
    ind = topology.systems["ID-SKA"]
    co = sample_form_ak("0007/SKA-D/JKT/2026", "ID", "KR", TODAY)
    xml, _, _ = ind.document_for(co)
    env = ind.envelope_for(co, "ID-D1", document_type=DocumentType.FORM_D)
    before = counts(bridge)
    with pytest.raises(zeep.exceptions.Fault) as err:
        ind.submit_soap(topology.bridge_url, AMS, env, xml)
    assert fault_code(err.value) == "form_d_not_accepted"
    assert "ASEAN Single Window (ASW)" in err.value.message
    assert counts(bridge) == before
    assert last_rejection(bridge)["code"] == "form_d_not_accepted"


def test_form_d_recognised_by_its_root_element_even_if_the_header_says_form_ak(
    topology: Topology, bridge: Exchange
) -> None:
    ind = topology.systems["ID-SKA"]
    form_d = etree.Element("{urn:asean:atiga:eformd:1}FormD")
    etree.SubElement(form_d, "{urn:asean:atiga:eformd:1}ReferenceNo").text = "D-1"
    signed = ind.signer.sign(form_d)
    co = sample_form_ak("0008/SKA-D/JKT/2026", "ID", "KR", TODAY)
    before = counts(bridge)
    with pytest.raises(zeep.exceptions.Fault) as err:
        ind.submit_soap(topology.bridge_url, AMS, ind.envelope_for(co, "ID-D2"), signed)
    assert fault_code(err.value) == "form_d_not_accepted"
    assert counts(bridge) == before  # never decoded, translated or stored
    assert last_rejection(bridge)["code"] == "form_d_not_accepted"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"this is not xml", "malformed_xml"),
        (
            b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'>",
            "malformed_xml",
        ),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "forbidden_xml"),
        (
            b"<Envelope xmlns='http://www.w3.org/2003/05/soap-envelope'><Body/></Envelope>",
            "version_mismatch",  # SOAP 1.1 section 4.4.1
        ),
    ],
)
def test_malformed_or_hostile_xml_gets_a_typed_fault_and_stores_nothing(
    topology: Topology, bridge: Exchange, body: bytes, code: str
) -> None:
    before = counts(bridge)
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    headers.update(topology.systems["ID-SKA"].auth_headers())
    resp = requests.post(topology.bridge_url + AMS.path, data=body, headers=headers, timeout=5)
    assert resp.status_code == 500
    detail = etree.fromstring(resp.content).find(f".//{AMS.q('Code')}")
    assert detail is not None and detail.text == code
    assert counts(bridge) == before
    assert last_rejection(bridge)["code"] == code


def test_identical_resubmission_gets_the_original_receipt_and_is_delivered_once(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    kcs, ind = topology.systems["KR-KCS"], topology.systems["ID-SKA"]
    co = sample_form_ak("KR-2026-AK-000301", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    first = kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K-a"), xml)
    again = kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K-b"), xml)
    assert (first.PrcsRsltCd, again.PrcsRsltCd) == ("accepted", "duplicate")
    assert again.MsgId == first.MsgId
    assert counts(bridge) == (1, 1)
    settle(worker)
    assert ind.unique_message_ids() == [first.MsgId]


def test_same_reference_with_other_content_is_a_conflict_kept_for_the_admin(
    topology: Topology, bridge: Exchange
) -> None:
    kcs = topology.systems["KR-KCS"]
    co = sample_form_ak("KR-2026-AK-000302", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K-c"), xml)
    changed = sample_form_ak("KR-2026-AK-000302", "KR", "ID", TODAY, items=1)
    xml2, _, _ = kcs.document_for(changed)
    with pytest.raises(zeep.exceptions.Fault) as err:
        kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(changed, "K-d"), xml2)
    assert fault_code(err.value, KCS) == "duplicate_conflict"
    rows = bridge.store.db.execute(
        "SELECT direction, count(*) FROM messages GROUP BY direction ORDER BY direction"
    ).fetchall()
    assert rows == [("conflict", 1), ("in", 1)]
    assert counts(bridge)[1] == 1  # the conflicting one is kept, but never delivered


def test_status_query_over_soap_and_rest(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    kcs = topology.systems["KR-KCS"]
    co = sample_form_ak("KR-2026-AK-000401", "KR", "VN", TODAY)
    xml, _, _ = kcs.document_for(co)
    kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K-s"), xml)
    settle(worker)

    def client_for(partner_id: str) -> zeep.Client:
        session = requests.Session()
        session.headers.update(topology.systems[partner_id].auth_headers())
        return zeep.Client(
            f"{topology.bridge_url}{AMS.path}?wsdl", transport=zeep.Transport(session=session)
        )

    client = client_for("KR-KCS")  # the issuing side
    report = client.service.QueryStatus(IssuingCountry="KR", ReferenceNo=co.reference_no)
    assert report.State == "TRANSMITTED"
    assert [e.Name for e in report.Event][:2] == ["received", "queued"]
    assert "delivered" in [e.Name for e in report.Event]
    rest = requests.get(
        f"{topology.bridge_url}/rest/v1/certificates/KR/{co.reference_no}",
        headers=topology.systems["VN-ECOSYS"].auth_headers(),
        timeout=5,
    ).json()
    assert rest["state"] == "TRANSMITTED"
    with pytest.raises(zeep.exceptions.Fault) as err:
        client.service.QueryStatus(IssuingCountry="KR", ReferenceNo="NOPE")
    assert fault_code(err.value) == "not_found"
    # Indonesia is neither issuer nor importer of this CO: for it, the CO does not exist.
    with pytest.raises(zeep.exceptions.Fault) as err:
        client_for("ID-SKA").service.QueryStatus(IssuingCountry="KR", ReferenceNo=co.reference_no)
    assert fault_code(err.value) == "not_found"


def test_rest_refusal_is_typed_json(topology: Topology, bridge: Exchange) -> None:
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak("VN-KR 26/01/00099", "VN", "KR", TODAY)
    _, doc, _ = vn.document_for(co)
    resp = vn.submit_rest(topology.bridge_url, vn.envelope_for(co, "VN-x"), doc, b"garbage")
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "signature_invalid"
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents",
        data=b"[1,2",
        headers=vn.auth_headers(),
        timeout=5,
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "schema_violation"


def test_a_header_that_names_another_co_than_the_signed_document_is_refused(
    topology: Topology, bridge: Exchange
) -> None:
    kcs = topology.systems["KR-KCS"]
    co = sample_form_ak("KR-2026-AK-000601", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    env = dataclasses.replace(kcs.envelope_for(co, "K-hdr"), reference_no="KR-2026-AK-999999")
    with pytest.raises(zeep.exceptions.Fault) as err:
        kcs.submit_soap(topology.bridge_url, KCS, env, xml)
    assert fault_code(err.value, KCS) == "schema_violation"
    assert "KR-2026-AK-999999" in err.value.message
    assert counts(bridge) == (0, 0)


def test_a_disk_failure_is_our_typed_500_and_stores_nothing(
    topology: Topology, bridge: Exchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk is outside the machine's guarantees: make it fail and look at the answers."""

    def disk_fails(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(bridge.store, "accept", disk_fails)
    kcs, vn = topology.systems["KR-KCS"], topology.systems["VN-ECOSYS"]
    co = sample_form_ak("KR-2026-AK-000701", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    with pytest.raises(zeep.exceptions.Fault) as err:
        kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K-disk"), xml)
    assert err.value.code.endswith("Server")
    assert "not stored" in err.value.message
    vco = sample_form_ak("VN-KR 26/01/00777", "VN", "KR", TODAY)
    _, doc, sig = vn.document_for(vco)
    resp = vn.submit_rest(topology.bridge_url, vn.envelope_for(vco, "VN-disk"), doc, sig)
    assert resp.status_code == 500
    assert resp.json()["error"]["code"] == "internal_error"
    assert counts(bridge) == (0, 0)
