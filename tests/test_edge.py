"""The inbound edge (issue 9, sections 2, 3 and 5): what toolkits send, and typed answers.

A real bridge on loopback, real partner keys and signatures. Each test sends what a Java,
.NET or Node toolkit (or an attacker) sends and checks the typed answer and the audit row.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import requests
from bridge_client import Answer, _rest_answer, _soap_answer
from lxml import etree

from ak_bridge import create_app
from ak_bridge.adapters.web import soap
from ak_bridge.core.errors import (
    MESSAGE_MAX,
    PARTNER_TEXT_MAX,
    FailureClass,
    PartnerRejected,
    Rejected,
    SchemaViolation,
)
from ak_bridge.formats.akstd import AkStdCodec
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import LiveServer
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS, KCS, SoapContract, rest_body

TODAY = datetime.now(UTC).date()
XML = {"Content-Type": soap.CONTENT_TYPE}


def _wrap(b64: str, width: int, eol: str) -> str:
    """base64 as MIME encoders write it: wrapped lines, indented, surrounded by blanks."""
    lines = [b64[i : i + width] for i in range(0, len(b64), width)]
    return "\n    " + eol.join(lines) + "\n  "


def _kcs_request(topo: Topology, ref: str, message_id: str) -> etree._Element:
    kcs = topo.systems["KR-KCS"]
    co = sample_form_ak(ref, "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    assert xml is not None
    return etree.fromstring(soap.submit_request(KCS, kcs.envelope_for(co, message_id), xml))


def _post_soap(topo: Topology, contract: SoapContract, envelope: etree._Element) -> Answer:
    partner = "KR-KCS" if contract is KCS else "ID-SKA"
    resp = requests.post(
        topo.bridge_url + contract.path,
        data=etree.tostring(envelope),
        headers={**XML, **topo.systems[partner].auth_headers()},
        timeout=30,
    )
    return _soap_answer(contract, resp)


def _faultcode(answer: Answer) -> str | None:
    return etree.fromstring(answer.content).findtext(".//faultcode")


def _last_audit(bridge: Exchange, event: str = "rejected") -> dict:
    (row,) = bridge.store.audit_events(event, limit=1)
    return row


# -- section 2: what SOAP toolkits send ---------------------------------------------------


@pytest.mark.parametrize(("width", "eol"), [(76, "\r\n"), (64, "\n")])
def test_soap_base64_wrapped_by_a_mime_encoder_is_accepted(
    topology: Topology, bridge: Exchange, width: int, eol: str
) -> None:
    request = _kcs_request(topology, f"KR-B64-{width}", f"K-B64-{width}")
    doc = request.find(f".//{KCS.q(KCS.document)}")
    doc.text = _wrap(doc.text, width, eol)
    answer = _post_soap(topology, KCS, request)
    assert (answer.status, answer.code, answer.outcome) == (200, None, "accepted"), answer.content


def test_soap_base64_with_other_characters_is_still_refused(
    topology: Topology, bridge: Exchange
) -> None:
    request = _kcs_request(topology, "KR-B64-BAD", "K-B64-BAD")
    doc = request.find(f".//{KCS.q(KCS.document)}")
    doc.text = doc.text[:40] + "!" + doc.text[40:]
    assert _post_soap(topology, KCS, request).code == "schema_violation"


def test_rest_base64_signature_wrapped_is_accepted(topology: Topology, bridge: Exchange) -> None:
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak("VN-B64-1", "VN", "KR", TODAY)
    _, document, signature = vn.document_for(co)
    body = rest_body(vn.envelope_for(co, "V-B64-1"), document, signature)
    body["signature"] = _wrap(body["signature"], 76, "\r\n")
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents", json=body, headers=vn.auth_headers(), timeout=30
    )
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["status"] == "accepted"


@pytest.mark.parametrize("value", ["1", "true"])
def test_a_mandatory_header_block_gets_a_must_understand_fault(
    topology: Topology, bridge: Exchange, value: str
) -> None:
    request = _kcs_request(topology, f"KR-MU-{value}", f"K-MU-{value}")
    header = etree.Element(f"{{{soap.NS_SOAP11}}}Header")
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    block = etree.SubElement(header, f"{{{wsse}}}Security")
    block.set(f"{{{soap.NS_SOAP11}}}mustUnderstand", value)
    request.insert(0, header)
    answer = _post_soap(topology, KCS, request)
    assert answer.status == 500
    assert _faultcode(answer) == "soapenv:MustUnderstand"
    assert b"must_understand" in answer.content
    assert not bridge.store.db.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert _last_audit(bridge)["code"] == "must_understand"


def test_an_optional_header_block_is_accepted(topology: Topology, bridge: Exchange) -> None:
    request = _kcs_request(topology, "KR-MU-0", "K-MU-0")
    header = etree.Element(f"{{{soap.NS_SOAP11}}}Header")
    block = etree.SubElement(header, "{http://www.w3.org/2005/08/addressing}MessageID")
    block.set(f"{{{soap.NS_SOAP11}}}mustUnderstand", "0")
    block.text = "urn:uuid:1"
    request.insert(0, header)
    assert _post_soap(topology, KCS, request).outcome == "accepted"


def test_a_soap_1_2_envelope_gets_a_version_mismatch_fault(
    topology: Topology, bridge: Exchange
) -> None:
    request = _kcs_request(topology, "KR-V12", "K-V12")
    twelve = etree.Element(f"{{{soap.NS_SOAP12}}}Envelope", nsmap={"env": soap.NS_SOAP12})
    body = etree.SubElement(twelve, f"{{{soap.NS_SOAP12}}}Body")
    body.append(request.find(f"{{{soap.NS_SOAP11}}}Body")[0])
    answer = _post_soap(topology, KCS, twelve)
    assert (answer.status, answer.code) == (500, "version_mismatch"), answer.content
    assert _faultcode(answer) == "soapenv:VersionMismatch"


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "allow"),
    [
        ("GET", "/soap/nowhere", 404, "unknown_endpoint", None),
        ("POST", "/soap/kcs/extra", 404, "unknown_endpoint", None),
        ("GET", "/rest/v1/nowhere", 404, "unknown_endpoint", None),
        ("GET", "/admin.php", 404, "unknown_endpoint", None),
        ("PUT", "/soap/kcs", 405, "method_not_allowed", "POST"),
        ("GET", "/soap/ams", 405, "method_not_allowed", "POST"),
        ("DELETE", "/rest/v1/documents", 405, "method_not_allowed", "POST"),
        ("POST", "/healthz", 405, "method_not_allowed", "GET"),
    ],
)
def test_unknown_paths_and_methods_answer_in_the_endpoints_shape(
    topology: Topology,
    bridge: Exchange,
    method: str,
    path: str,
    status: int,
    code: str,
    allow: str | None,
) -> None:
    resp = requests.request(method, topology.bridge_url + path, timeout=10)
    assert resp.status_code == status
    if path.startswith("/soap/"):
        assert resp.headers["Content-Type"].startswith("text/xml")
        contract = KCS if path.startswith(KCS.path) else AMS  # each contract's own detail
        assert _soap_answer(contract, resp).code == code
    else:
        assert _rest_answer(resp).code == code
    if allow is not None:
        assert allow in {m.strip() for m in resp.headers["Allow"].split(",")}
    assert b"<html" not in resp.content.lower()


def _wsdl_location(url: str, headers: dict[str, str]) -> str:
    wsdl = etree.fromstring(
        requests.get(url + "/soap/kcs?wsdl", headers=headers, timeout=10).content
    )
    (address,) = wsdl.iter(f"{{{soap.NS_WSDL_SOAP}}}address")
    return address.get("location")


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gateway.customs.example"}


def test_wsdl_address_ignores_forwarded_headers_from_anyone_not_trusted(
    topology: Topology, bridge: Exchange
) -> None:
    location = _wsdl_location(topology.bridge_url, FORWARDED)
    assert location == f"{topology.bridge_url}/soap/kcs"


def test_wsdl_address_follows_a_configured_trusted_proxy(topology: Topology) -> None:
    auth = replace(topology.settings.auth, trusted_proxies=("127.0.0.1",))
    server = LiveServer(create_app(replace(topology.settings, auth=auth))).start()
    try:
        location = _wsdl_location(server.url, FORWARDED)
        assert location == "https://gateway.customs.example/soap/kcs"
        assert _wsdl_location(server.url, {}) == f"{server.url}/soap/kcs"
    finally:
        server.stop()
        topology.exchanges.append(server.app.extensions["ak_bridge"])  # closed with the rest


# -- section 3: an unexpected error is typed, detail-free and audited ----------------------


def _boom(*_: object, **__: object) -> None:
    raise RuntimeError("secret detail /srv/ak-bridge/var/key.pem")


@pytest.mark.parametrize("endpoint", ["soap", "rest", "status"])
def test_an_unexpected_error_is_answered_without_detail_and_audited(
    topology: Topology, bridge: Exchange, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setattr(bridge, "accept", _boom)  # a bug anywhere in the use case
    monkeypatch.setattr(bridge, "status", _boom)
    vn = topology.systems["VN-ECOSYS"]
    if endpoint == "soap":
        answer = _post_soap(topology, KCS, _kcs_request(topology, "KR-BOOM", "K-BOOM"))
        assert _faultcode(answer) == "soapenv:Server"
    elif endpoint == "rest":
        co = sample_form_ak("VN-BOOM", "VN", "KR", TODAY)
        _, document, signature = vn.document_for(co)
        body = rest_body(vn.envelope_for(co, "V-BOOM"), document, signature)
        resp = requests.post(
            topology.bridge_url + "/rest/v1/documents", json=body, headers=vn.auth_headers()
        )
        answer = _rest_answer(resp)
    else:
        resp = requests.get(
            topology.bridge_url + "/rest/v1/certificates/VN/VN-BOOM", headers=vn.auth_headers()
        )
        answer = _rest_answer(resp)
    assert answer.status == 500
    assert b"internal_error" in answer.content
    assert b"secret" not in answer.content and b"RuntimeError" not in answer.content
    row = _last_audit(bridge, "internal_error")
    assert row["code"] == "internal_error"
    assert "RuntimeError" in row["detail"] and "secret" not in row["detail"]
    assert row["partner"] == ("KR-KCS" if endpoint == "soap" else "VN-ECOSYS")


def _sign_ska(topology: Topology, co, edit) -> bytes:  # noqa: ANN001 - a FormAK, a callable
    """An Indonesian SKA document, changed by ``edit`` before Indonesia signs it."""
    indonesia = topology.systems["ID-SKA"]
    root = etree.fromstring(etree.tostring(indonesia.codec.encode(co)))
    edit(root)
    return indonesia.signer.sign(root)


def test_a_5000_digit_integer_in_a_mapped_format_is_a_typed_refusal_with_its_box(
    topology: Topology, bridge: Exchange
) -> None:
    co = sample_form_ak("ID-BIG-1", "ID", "KR", TODAY)

    def huge(root: etree._Element) -> None:
        next(root.iter("{*}Jumlah")).text = "9" * 5000  # package count, box 7

    signed = _sign_ska(topology, co, huge)
    indonesia = topology.systems["ID-SKA"]
    envelope = etree.fromstring(
        soap.submit_request(AMS, indonesia.envelope_for(co, "I-BIG-1"), signed)
    )
    answer = _post_soap(topology, AMS, envelope)
    assert answer.code == "schema_violation", answer.content[:500]
    detail = etree.fromstring(answer.content).find(f".//{AMS.q(AMS.error_detail)}")
    assert detail.findtext(AMS.q(AMS.f("box"))) == "7"
    assert len(answer.content) < 4000


def test_a_5000_digit_integer_in_the_agreed_standard_is_a_typed_refusal_with_its_box() -> None:
    """xs:nonNegativeInteger has no bound; int() refuses past 4,300 digits."""
    codec = AkStdCodec()
    root = etree.fromstring(
        etree.tostring(codec.encode(sample_form_ak("KR-BIG", "KR", "ID", TODAY)))
    )
    next(root.iter("{*}QuantityQuantity")).text = "9" * 5000
    with pytest.raises(SchemaViolation) as refused:
        codec.decode(root)
    assert refused.value.box == "7"


@pytest.mark.parametrize("char", ["\u0000", "\u0001", "\u001b", "\ufffe"])
def test_a_control_character_in_a_json_text_field_is_a_typed_refusal_with_its_box(
    topology: Topology, bridge: Exchange, char: str
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak(f"VN-CTL-{ord(char)}", "VN", "KR", TODAY)
    document = vn.codec.encode(co)
    document["nguoiXuatKhau"]["ten"] = f"CONG TY{char}XUAT KHAU"  # exporter's name, box 1
    body = rest_body(
        vn.envelope_for(co, f"V-CTL-{ord(char)}"), document, vn.signer.sign_json(document)
    )
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents", json=body, headers=vn.auth_headers(), timeout=30
    )
    assert resp.status_code == 400, resp.text[:300]
    error = resp.json()["error"]
    assert (error["code"], error["box"]) == ("schema_violation", "1")
    assert _last_audit(bridge)["code"] == "schema_violation"


# -- section 5: sizes -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["correlationId", "referenceNo", "issuingCountry"])
def test_rest_header_fields_are_bounded_like_soaps(
    topology: Topology, bridge: Exchange, field: str
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak("VN-BIG-H", "VN", "KR", TODAY)
    _, document, signature = vn.document_for(co)
    body = rest_body(vn.envelope_for(co, "V-BIG-H"), document, signature)
    body["header"][field] = "R" * 500_000
    raw = json.dumps(body).encode()
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents",
        data=raw,
        headers={**vn.auth_headers(), "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "schema_violation"
    assert len(resp.content) < 2000, len(resp.content)
    assert len(_last_audit(bridge)["detail"]) <= 1000


@pytest.mark.parametrize("char", ["\u0000", "\u001b", "\n"])
def test_rest_header_fields_carry_no_control_characters(
    topology: Topology, bridge: Exchange, char: str
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak(f"VN-CTLH-{ord(char)}", "VN", "KR", TODAY)
    _, document, signature = vn.document_for(co)
    body = rest_body(vn.envelope_for(co, f"V-CTLH-{ord(char)}"), document, signature)
    body["header"]["correlationId"] = f"corr{char}1"
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents", json=body, headers=vn.auth_headers(), timeout=30
    )
    assert resp.status_code == 400, resp.text[:300]
    assert (resp.json()["error"]["code"], resp.json()["error"]["box"]) == (
        "schema_violation",
        "header",
    )


def test_an_answer_never_echoes_more_than_a_short_prefix_of_the_input() -> None:
    exc = Rejected(f"no certificate KR/{'X' * 500_000}", box="header")
    answer = json.dumps(exc.as_dict())
    assert len(answer) < 3 * MESSAGE_MAX
    fault = soap.fault_response(exc, KCS)  # the message is in faultstring, detail, finding
    assert len(fault) < 5 * MESSAGE_MAX


def test_a_partners_fault_text_is_capped_before_it_is_stored() -> None:
    failure = PartnerRejected(
        "SOAP fault Client: " + "partner says " * 400,
        failure_class=FailureClass.FAULT,
        code="c" * 5000,
    )
    assert len(failure.detail) <= PARTNER_TEXT_MAX
    assert len(failure.code or "") <= 64


def test_repeated_identical_authentication_failures_are_counted_not_each_audited(
    topology: Topology, bridge: Exchange
) -> None:
    failures = topology.bridge_server.app.extensions["ak_bridge.failures"]
    failures.window = 60.0  # 200 requests fit in it even on a loaded machine
    url = topology.bridge_url + "/rest/v1/certificates/KR/KR-1"
    before = len(bridge.store.audit_events("rejected"))
    with requests.Session() as session:
        for _ in range(200):
            assert session.get(url, headers={"Authorization": "Bearer guess"}).status_code == 401
        assert len(bridge.store.audit_events("rejected")) == before + 1
        session.get(url, headers={"Authorization": "Bearer other-guess"})
        assert len(bridge.store.audit_events("rejected")) == before + 2
        failures.window = 0.2  # now let both series end
        time.sleep(0.3)
        session.get(topology.bridge_url + "/healthz")  # any request closes ended series
    rows = bridge.store.audit_events("rejected")
    assert len(rows) == before + 3
    summary = rows[0]
    assert summary["code"] == "unauthenticated"
    assert "199 more identical refusals" in summary["detail"]
    assert not bridge.store.verify_audit()
