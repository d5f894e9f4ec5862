"""Minimal SOAP 1.1 document/literal handling, contract first (zeep is a client only).

Unwrap: hardened parse, SOAP 1.1 only, exactly one Body with exactly one element, which
is validated against the schema embedded in the contract's own WSDL. Wrap: receipts, status
reports and faults whose detail carries the typed error code and the Form AK box.
"""

from __future__ import annotations

import base64
from datetime import datetime

from lxml import etree

from ak_bridge.adapters.web.context import decode_base64
from ak_bridge.core.errors import (
    BadEnvelope,
    InternalError,
    MustUnderstand,
    Rejected,
    SchemaViolation,
    VersionMismatch,
    clip,
)
from ak_bridge.core.model import DocumentType, Envelope, MessageFunction, Receipt
from ak_bridge.security.xmlio import NS_SOAP11, NS_SOAP12, WSDL_DIR, built_once, parse_untrusted
from ak_bridge.standard.contracts import SoapContract

NS_XS = "http://www.w3.org/2001/XMLSchema"
NS_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
CONTENT_TYPE = "text/xml; charset=utf-8"
HEADER_FIELD_MAX = 128  # ids, references, country codes: no header value needs more


def _body_schema(contract: SoapContract) -> etree.XMLSchema:
    return _schema_of_wsdl(contract.wsdl)


@built_once
def _schema_of_wsdl(wsdl_path: str) -> etree.XMLSchema:
    wsdl = etree.parse(str(WSDL_DIR / wsdl_path))
    schema_el = wsdl.find(f".//{{{NS_XS}}}schema")
    assert schema_el is not None, f"{wsdl_path} has no embedded schema"
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema_el)))


def unwrap(body: bytes, contract: SoapContract) -> etree._Element:
    """Return the single Body element of a SOAP 1.1 request, validated against the WSDL."""
    root = parse_untrusted(body)
    if root.tag == f"{{{NS_SOAP12}}}Envelope":
        raise VersionMismatch("SOAP 1.2 is not supported here: send a SOAP 1.1 envelope")
    name = etree.QName(root)
    if name.localname == "Envelope" and name.namespace not in (None, NS_SOAP11):
        raise VersionMismatch("the Envelope is in another SOAP version's namespace")
    if root.tag != f"{{{NS_SOAP11}}}Envelope":
        raise BadEnvelope("not a SOAP 1.1 envelope")
    _no_mandatory_headers(root)
    bodies = root.findall(f"{{{NS_SOAP11}}}Body")
    if len(bodies) != 1:
        raise BadEnvelope(f"a SOAP envelope needs exactly one Body, found {len(bodies)}")
    children = [c for c in bodies[0] if isinstance(c.tag, str)]
    if len(children) != 1:
        raise BadEnvelope(f"the Body needs exactly one element, found {len(children)}")
    element = children[0]
    qname = etree.QName(element)
    # Checked before the schema, which would call an unknown operation a schema violation.
    if qname.namespace != contract.namespace or qname.localname not in (
        contract.submit,
        contract.query,
    ):
        raise BadEnvelope(f"unknown operation {element.tag} for this endpoint")
    schema = _body_schema(contract)
    try:
        ok = schema.validate(element)
    except etree.Error as exc:
        raise SchemaViolation(f"request does not match the WSDL: {exc}", box="header") from None
    if not ok:
        err = schema.error_log.last_error
        raise SchemaViolation(f"request does not match the WSDL: {err.message}", box="header")
    return element


MUST_UNDERSTAND = f"{{{NS_SOAP11}}}mustUnderstand"


def _no_mandatory_headers(envelope: etree._Element) -> None:
    """SOAP 1.1 section 4.2.3: no header block we would have to process and do not.

    The bridge processes no SOAP header block (identity is in the body and the signature,
    not WS-Security), so any block marked ``mustUnderstand="1"`` gets a MustUnderstand
    fault: accepting it silently would let a partner believe it is enforced.
    """
    for header in envelope.findall(f"{{{NS_SOAP11}}}Header"):
        for block in header:
            if isinstance(block.tag, str) and block.get(MUST_UNDERSTAND, "0").strip() in (
                "1",
                "true",
            ):
                name = clip(block.tag, 120)
                raise MustUnderstand(f"header block {name} is not understood by this service")


def _text(parent: etree._Element, contract: SoapContract, logical: str) -> str | None:
    if logical not in contract.fields:
        return None  # a field this contract does not carry (KCS: the agreement)
    el = parent.find(contract.q(contract.f(logical)))
    return el.text.strip() if el is not None and el.text else None


def read_envelope(request: etree._Element, contract: SoapContract) -> Envelope:
    """The message header of a submit request (already schema-valid)."""
    header = request.find(contract.q(contract.header))
    assert header is not None  # guaranteed by the WSDL schema
    for field in header:
        if len(field.text or "") > HEADER_FIELD_MAX:
            raise SchemaViolation(
                f"header field {etree.QName(field).localname} is longer than "
                f"{HEADER_FIELD_MAX} characters",
                box="header",
            )

    def req(logical: str) -> str:
        value = _text(header, contract, logical)
        if not value:
            raise SchemaViolation(f"header field {contract.f(logical)} is empty", box="header")
        return value

    try:
        document_type = DocumentType(req("document_type"))
    except ValueError:
        raise SchemaViolation(
            f"unknown document type {req('document_type')!r}", box="header"
        ) from None
    try:
        function = MessageFunction(req("function"))
    except ValueError:
        raise SchemaViolation(
            f"unknown message function {req('function')!r}", box="header"
        ) from None
    try:
        sent_at = datetime.fromisoformat(req("sent_at"))
    except ValueError:
        # xs:dateTime allows what Python does not (hour 24, years past 9999, before 1).
        raise SchemaViolation(
            f"header field {contract.f('sent_at')} is not a usable date-time", box="header"
        ) from None
    return Envelope(
        sender=req("sender"),
        receiver=req("receiver"),
        document_type=document_type,
        function=function,
        message_id=req("message_id"),
        sent_at=sent_at,
        reference_no=_text(header, contract, "reference_no"),
        issuing_country=_text(header, contract, "issuing_country"),
        correlation_id=_text(header, contract, "correlation_id"),
        agreement=_text(header, contract, "agreement"),
    )


def read_document(request: etree._Element, contract: SoapContract) -> bytes:
    el = request.find(contract.q(contract.document))
    return decode_base64((el.text or "") if el is not None else "", "the document")


def read_query(request: etree._Element, contract: SoapContract) -> tuple[str, str]:
    country = _text(request, contract, "issuing_country") or ""
    ref = _text(request, contract, "reference_no") or ""
    return country, ref


def _envelope(child: etree._Element) -> bytes:
    env = etree.Element(f"{{{NS_SOAP11}}}Envelope", nsmap={"soapenv": NS_SOAP11})
    body = etree.SubElement(env, f"{{{NS_SOAP11}}}Body")
    body.append(child)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _sub(parent: etree._Element, contract: SoapContract, logical: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, contract.q(contract.f(logical))).text = text


def _findings(parent: etree._Element, contract: SoapContract, findings: tuple) -> None:
    for f in findings:
        item = etree.SubElement(parent, contract.q(contract.f("finding")))
        _sub(item, contract, "code", f.code)
        _sub(item, contract, "box", f.box)
        _sub(item, contract, "severity", str(f.severity))
        _sub(item, contract, "message", f.message)


def receipt_response(receipt: Receipt, contract: SoapContract) -> bytes:
    el = etree.Element(contract.q(contract.receipt), nsmap={None: contract.namespace})
    _sub(el, contract, "message_id", receipt.message_id)
    _sub(el, contract, "status", receipt.status)
    _sub(el, contract, "received_at", receipt.received_at.isoformat())
    _sub(el, contract, "reference_no", receipt.reference_no)
    _findings(el, contract, receipt.findings)
    if receipt.signed is not None:
        _sub(el, contract, "signed_receipt", base64.b64encode(receipt.signed).decode())
    return _envelope(el)


def status_response(
    contract: SoapContract, country: str, reference_no: str, state: str, events: list[dict]
) -> bytes:
    el = etree.Element(contract.q(contract.status_report), nsmap={None: contract.namespace})
    _sub(el, contract, "issuing_country", country)
    _sub(el, contract, "reference_no", reference_no)
    _sub(el, contract, "state", state)
    for e in events:
        item = etree.SubElement(el, contract.q(contract.f("event")))
        _sub(item, contract, "at", e["at"])
        _sub(item, contract, "event_name", e["name"])
        _sub(item, contract, "message_id", e.get("message_id"))
        _sub(item, contract, "detail", e.get("detail"))
    return _envelope(el)


def fault_response(error: Rejected | InternalError, contract: SoapContract) -> bytes:
    """A SOAP 1.1 Fault; the detail carries the code, the box and the findings, bounded.

    A MustUnderstand fault has no detail: SOAP 1.1 section 4.4 keeps detail for errors of
    the Body, and this one is about a header block (its code is in the faultstring).
    """
    fault = etree.Element(f"{{{NS_SOAP11}}}Fault")
    message = clip(error.detail)
    etree.SubElement(fault, "faultcode").text = f"soapenv:{error.soap_faultcode}"
    etree.SubElement(fault, "faultstring").text = f"{error.code}: {message}"
    if isinstance(error, MustUnderstand):
        return _envelope(fault)
    detail = etree.SubElement(fault, "detail")
    el = etree.SubElement(
        detail, contract.q(contract.error_detail), nsmap={None: contract.namespace}
    )
    _sub(el, contract, "code", error.code)
    _sub(el, contract, "box", error.box)
    _sub(el, contract, "message", message)
    _findings(el, contract, error.bounded_findings())
    return _envelope(fault)


def wsdl_document(contract: SoapContract, address: str) -> bytes:
    """The contract's WSDL with ``soap:address`` pointing at the running service."""
    tree = etree.parse(str(WSDL_DIR / contract.wsdl))
    for addr in tree.iter(f"{{{NS_WSDL_SOAP}}}address"):
        addr.set("location", address)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def submit_request(contract: SoapContract, envelope: Envelope, document: bytes) -> bytes:
    """A submit request built by hand (for tests and hostile-input corpora)."""
    req = etree.Element(contract.q(contract.submit), nsmap={None: contract.namespace})
    header = etree.SubElement(req, contract.q(contract.header))
    for local, value in contract.header_values(envelope).items():
        text = value.isoformat() if isinstance(value, datetime) else value
        etree.SubElement(header, contract.q(local)).text = text
    etree.SubElement(req, contract.q(contract.document)).text = base64.b64encode(document).decode()
    return _envelope(req)
