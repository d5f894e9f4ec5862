"""The REST contract as marshmallow schemas: what is loaded, what is answered, what is published.

One source for three things: the request is loaded with these schemas, the answers are
dumped with them, and ``openapi.py`` publishes them (apispec) as ``/rest/v1/openapi.json``.
Every field name is camelCase (the REST convention; see docs/integration-guide.md), and
unknown fields are refused rather than ignored, so a misspelt key is an error, not a silence.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from ak_bridge.adapters.web.soap import HEADER_FIELD_MAX
from ak_bridge.core.model import CertificateState, DocumentType, MessageFunction


def _header_field(max_len: int, required: bool = False) -> fields.String:
    """A header value: bounded like the SOAP header's (they are stored and echoed; 500 kB
    was accepted), and free of control characters, which no XML header could carry."""
    checks = [
        validate.Length(1, max_len),
        validate.Regexp(r"\A[^\x00-\x1f\x7f\ufffe\uffff]*\Z", error="control character"),
    ]
    if required:
        return fields.String(required=True, validate=checks)
    return fields.String(load_default=None, allow_none=True, validate=checks)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class HeaderSchema(_Strict):
    """The exchange header; ``senderId`` is the caller's own partner id (config/partners.toml)."""

    senderId = _header_field(64, required=True)
    receiverId = _header_field(64, required=True)
    documentType = fields.Enum(DocumentType, by_value=True, required=True)
    messageFunction = fields.Enum(MessageFunction, by_value=True, required=True)
    messageId = _header_field(HEADER_FIELD_MAX, required=True)
    sentAt = fields.AwareDateTime(required=True)
    referenceNo = _header_field(HEADER_FIELD_MAX)
    issuingCountry = _header_field(HEADER_FIELD_MAX)
    correlationId = _header_field(HEADER_FIELD_MAX)
    agreementCode = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"\A[A-Za-z][A-Za-z0-9-]{1,15}\Z"),
        metadata={"description": "the FTA (AKFTA, IKCEPA, VKFTA, ...); absent means AKFTA"},
    )


class SubmitSchema(_Strict):
    """A document in the sender's national JSON format plus its signature, or signed XML."""

    header = fields.Nested(HeaderSchema, required=True)
    document = fields.Dict(
        load_default=None, allow_none=True, metadata={"description": "national JSON format"}
    )
    documentXml = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "base64 (RFC 4648 section 4, padded) of signed XML"},
    )
    signature = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "base64 of the signed SignedJson manifest"},
    )


class FindingSchema(Schema):
    code = fields.String(required=True)
    box = fields.String(required=True, allow_none=True)
    message = fields.String(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(["error", "warning"]))


class ReceiptSchema(Schema):
    messageId = fields.String(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(
            ["accepted", "duplicate", "forwarded_to_asw", "forwarded_to_gateway"]
        ),
    )
    receivedAt = fields.String(required=True, metadata={"format": "date-time"})
    referenceNo = fields.String(required=True, allow_none=True)
    findings = fields.List(fields.Nested(FindingSchema), required=True)
    signedReceipt = fields.String(
        metadata={
            "description": "base64 of the bridge's signed receipt (XML, namespace"
            " urn:ak-bridge:receipt:1.0, enveloped XMLDSig); present for partners configured"
            " with sign_receipts, the same bytes on every resend"
        }
    )


class EventSchema(Schema):
    at = fields.String(required=True, metadata={"format": "date-time"})
    name = fields.String(required=True)
    messageId = fields.String(required=True)
    detail = fields.String(required=True, allow_none=True)


class StatusSchema(Schema):
    issuingCountry = fields.String(required=True)
    referenceNo = fields.String(required=True)
    issuingBody = fields.String(
        metadata={"description": "the CO's issuing body (1.1), when the query named one"}
    )
    state = fields.String(
        required=True, validate=validate.OneOf([s.value for s in CertificateState])
    )
    events = fields.List(fields.Nested(EventSchema), required=True)


class ErrorDetailSchema(Schema):
    """Every 4xx and 5xx under /rest: a code, the Form AK box, a message, findings."""

    code = fields.String(required=True)
    box = fields.String(required=True, allow_none=True)
    message = fields.String(required=True)
    findings = fields.List(fields.Nested(FindingSchema), required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


def status_body(
    country: str, reference_no: str, st: dict[str, Any], issuing_body: str = ""
) -> dict[str, Any]:
    """The status answer in camelCase (the service speaks snake_case)."""
    events = [
        {
            "at": e["at"].isoformat() if hasattr(e["at"], "isoformat") else str(e["at"]),
            "name": e["name"],
            "messageId": e["message_id"],
            "detail": e["detail"],
        }
        for e in st["events"]
    ]
    body = {
        "issuingCountry": country,
        "referenceNo": reference_no,
        "state": str(st["state"]),
        "events": events,
    }
    if issuing_body:
        body["issuingBody"] = issuing_body
    return StatusSchema().dump(body)
