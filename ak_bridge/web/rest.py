"""REST/JSON endpoint for AMS systems that prefer JSON: the same operations as SOAP.

POST /rest/v1/documents   {"header": {...}, "document": {...}, "signature": "<base64>"}
                          or {"header": {...}, "documentXml": "<base64 of signed XML>"}
GET  /rest/v1/certificates/<issuing country>/<reference no>   status and timeline
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify
from marshmallow import Schema, ValidationError, fields, validate

from ..errors import MalformedXml, Rejected, SchemaViolation
from ..exchange import Inbound
from ..model import DocumentType, Envelope, MessageFunction
from .auth import identify
from .context import body, exchange

log = logging.getLogger(__name__)
bp = Blueprint("rest", __name__, url_prefix="/rest/v1")


class HeaderSchema(Schema):
    senderId = fields.String(required=True, validate=validate.Length(1, 64))
    receiverId = fields.String(required=True, validate=validate.Length(1, 64))
    documentType = fields.Enum(DocumentType, by_value=True, required=True)
    messageFunction = fields.Enum(MessageFunction, by_value=True, required=True)
    messageId = fields.String(required=True, validate=validate.Length(1, 128))
    sentAt = fields.AwareDateTime(required=True)
    referenceNo = fields.String(load_default=None, allow_none=True)
    issuingCountry = fields.String(load_default=None, allow_none=True)
    correlationId = fields.String(load_default=None, allow_none=True)


class SubmitSchema(Schema):
    header = fields.Nested(HeaderSchema, required=True)
    document = fields.Dict(load_default=None, allow_none=True)
    documentXml = fields.String(load_default=None, allow_none=True)
    signature = fields.String(load_default=None, allow_none=True)


def _error(exc: Rejected) -> Response:
    resp = jsonify({"error": exc.as_dict()})
    resp.status_code = exc.http_status
    return resp


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedXml("the body is not UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise SchemaViolation(
            f"the body is not valid JSON: {str(exc)[:120]}", box="header"
        ) from None


def _b64(text: str | None, what: str) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SchemaViolation(f"{what} is not valid base64", box="header") from None


@bp.post("/documents")
def submit() -> Response:
    try:
        g.caller = identify(exchange().settings)
        data = _parse_json(body())
        try:
            msg = SubmitSchema().load(data) if isinstance(data, dict) else None
        except ValidationError as exc:
            raise SchemaViolation(f"invalid request: {exc.messages}", box="header") from None
        if msg is None:
            raise SchemaViolation("the body must be a JSON object", box="header")
        h = msg["header"]
        envelope = Envelope(
            sender=h["senderId"],
            receiver=h["receiverId"],
            document_type=h["documentType"],
            function=h["messageFunction"],
            message_id=h["messageId"],
            sent_at=h["sentAt"],
            reference_no=h["referenceNo"],
            issuing_country=h["issuingCountry"],
            correlation_id=h["correlationId"],
        )
        inbound = Inbound(
            via="rest",
            envelope=envelope,
            xml=_b64(msg["documentXml"], "documentXml"),
            json=msg["document"],
            json_signature=_b64(msg["signature"], "signature"),
            caller=g.caller,
        )
        receipt = exchange().accept(inbound)
    except Rejected as exc:
        exchange().audit_rejection(exc, "rest")
        return _error(exc)
    return jsonify(
        {
            "messageId": receipt.message_id,
            "status": receipt.status,
            "receivedAt": receipt.received_at.isoformat(),
            "referenceNo": receipt.reference_no,
            "findings": [f.as_dict() for f in receipt.findings],
        }
    )


@bp.get("/certificates/<country>/<path:reference_no>")
def certificate_status(country: str, reference_no: str) -> Response:
    try:
        st = exchange().status(country, reference_no, caller=identify(exchange().settings))
    except Rejected as exc:
        exchange().audit_rejection(exc, "rest")
        return _error(exc)
    return jsonify(
        {
            "issuingCountry": country,
            "referenceNo": reference_no,
            "state": st["state"],
            "events": st["events"],
        }
    )
