"""The two SOAP contracts ak-bridge speaks, as data: which element carries which field.

Both contracts have the same shape (a header, the signed document as base64, a receipt, a
status query, a typed fault detail) but their own namespace and element names: the KCS
one follows UNI-PASS naming, the AMS one is the contract ak-bridge publishes for national
CO systems. Inbound endpoints, outbound senders and the simulators all read these tables,
so a name is written once. A new AMS implements the AMS contract; it needs no code.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ak_bridge.core.model import Envelope


@dataclass(frozen=True)
class SoapContract:
    name: str
    namespace: str
    wsdl: str  # relative to wsdl/
    binding: str  # local name of the binding
    path: str  # where ak-bridge serves it
    submit: str  # operation and request element
    receipt: str
    query: str
    status_report: str
    error_detail: str
    header: str
    document: str
    fields: dict[str, str]  # logical name -> element local name

    def q(self, local: str) -> str:
        """Clark notation ``{ns}local`` for an element of this contract."""
        return f"{{{self.namespace}}}{local}"

    def f(self, logical: str) -> str:
        return self.fields[logical]

    @property
    def binding_qname(self) -> str:
        return self.q(self.binding)

    def header_values(self, envelope: Envelope) -> dict[str, Any]:
        """The header's elements in WSDL order, by this contract's names; empty ones left out.

        Values stay typed (``sent_at`` a datetime) so zeep can serialise them itself.
        """
        values = {
            "sender": envelope.sender,
            "receiver": envelope.receiver,
            "document_type": str(envelope.document_type),
            "function": str(envelope.function),
            "message_id": envelope.message_id,
            "sent_at": envelope.sent_at,
            "reference_no": envelope.reference_no,
            "issuing_country": envelope.issuing_country,
            "correlation_id": envelope.correlation_id,
            "agreement": envelope.agreement,
        }
        return {
            self.f(k): values[k]
            for k in HEADER_ORDER
            if values[k] is not None and k in self.fields  # KCS's header names no agreement
        }


AMS = SoapContract(
    name="ams",
    namespace="urn:ak-bridge:ams:1.0",
    wsdl="ams/akbridge-ams-1.0.wsdl",
    binding="AkBridgeAmsBinding",
    path="/soap/ams",
    submit="SubmitDocument",
    receipt="Receipt",
    query="QueryStatus",
    status_report="StatusReport",
    error_detail="ErrorDetail",
    header="Header",
    document="Document",
    fields={
        "sender": "SenderId",
        "receiver": "ReceiverId",
        "document_type": "DocumentType",
        "function": "MessageFunction",
        "message_id": "MessageId",
        "sent_at": "SentAt",
        "reference_no": "ReferenceNo",
        "issuing_country": "IssuingCountry",
        "correlation_id": "CorrelationId",
        "agreement": "AgreementCode",
        "status": "Status",
        "received_at": "ReceivedAt",
        "finding": "Finding",
        "code": "Code",
        "box": "Box",
        "severity": "Severity",
        "message": "Message",
        "state": "State",
        "event": "Event",
        "at": "At",
        "event_name": "Name",
        "detail": "Detail",
        "signed_receipt": "SignedReceipt",
    },
)

KCS = SoapContract(
    name="kcs",
    namespace="urn:kcs:unipass:eco:1.0",
    wsdl="kcs/unipass-eco-1.0.wsdl",
    binding="UniPassEcoBinding",
    path="/soap/kcs",
    submit="TransmitCoDoc",
    receipt="CoRcptRslt",
    query="InqrCoStts",
    status_report="CoSttsRslt",
    error_detail="ErrDtl",
    header="TrnsHdr",
    document="CoDoc",
    fields={
        "sender": "SndrId",
        "receiver": "RcvrId",
        "document_type": "DocTpCd",
        "function": "MsgFnCd",
        "message_id": "MsgId",
        "sent_at": "SndDttm",
        "reference_no": "CoNo",
        "issuing_country": "IsuNatCd",
        "correlation_id": "RltnMsgId",
        "status": "PrcsRsltCd",
        "received_at": "RcptDttm",
        "finding": "ErrItem",
        "code": "ErrCd",
        "box": "BoxNo",
        "severity": "SvrtCd",
        "message": "ErrMsg",
        "state": "CoSttsCd",
        "event": "HstrItem",
        "at": "EvntDttm",
        "event_name": "EvntNm",
        "detail": "EvntDtl",
        "signed_receipt": "SgnRcpt",
    },
)

CONTRACTS = {c.name: c for c in (AMS, KCS)}
HEADER_ORDER = (
    "sender",
    "receiver",
    "document_type",
    "function",
    "message_id",
    "sent_at",
    "reference_no",
    "issuing_country",
    "correlation_id",
    "agreement",
)


def rest_header(envelope: Envelope) -> dict[str, str | None]:
    """The REST contract's header: the SOAP header's fields under camelCase names.

    ``agreementCode`` only when the envelope names one: a 1.0 header stays as it was.
    """
    header = {
        "senderId": envelope.sender,
        "receiverId": envelope.receiver,
        "documentType": str(envelope.document_type),
        "messageFunction": str(envelope.function),
        "messageId": envelope.message_id,
        "sentAt": envelope.sent_at.isoformat(),
        "referenceNo": envelope.reference_no,
        "issuingCountry": envelope.issuing_country,
        "correlationId": envelope.correlation_id,
    }
    if envelope.agreement is not None:
        header["agreementCode"] = envelope.agreement
    return header


def rest_body(
    envelope: Envelope,
    document: dict[str, Any] | None = None,
    signature: bytes | None = None,
    document_xml: bytes | None = None,
) -> dict[str, Any]:
    """A REST submit: a JSON document with its signed manifest, or signed XML as base64."""
    body: dict[str, Any] = {"header": rest_header(envelope)}
    if document is not None:
        body["document"] = document
        body["signature"] = base64.b64encode(signature or b"").decode()
    if document_xml is not None:
        body["documentXml"] = base64.b64encode(document_xml).decode()
    return body
