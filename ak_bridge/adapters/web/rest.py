"""REST/JSON endpoint for AMS systems that prefer JSON: the same operations as SOAP.

POST /rest/v1/documents   {"header": {...}, "document": {...}, "signature": "<base64>"}
                          or {"header": {...}, "documentXml": "<base64 of signed XML>"}
GET  /rest/v1/certificates/<issuing country>/<reference no>   status and timeline
"""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import ValidationError

from ak_bridge.adapters.web.auth import identify
from ak_bridge.adapters.web.context import body, decode_base64, exchange
from ak_bridge.adapters.web.edge import refuse
from ak_bridge.adapters.web.rest_schemas import ReceiptSchema, SubmitSchema, status_body
from ak_bridge.core.errors import Finding, Rejected, SchemaViolation, clip
from ak_bridge.core.model import Envelope
from ak_bridge.service.exchange import Inbound

bp = Blueprint("rest", __name__, url_prefix="/rest/v1")


MAX_JSON_DEPTH = 32  # a Form AK in any national JSON format is about 5 deep


class _Refused(ValueError):
    """Raised from the JSON decoder's hooks; becomes a schema violation."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Duplicate keys are ambiguous (first wins here, last wins there): refuse them."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _check_tree(data: Any) -> None:
    """Bound the depth and refuse lone surrogates, without recursion.

    A deep but parseable document would otherwise exhaust the stack later (canonical
    JSON for the signature check, marshmallow), and a lone surrogate (``"\\ud800"``) is
    valid JSON but no Unicode: it cannot be encoded, hashed or stored.
    """
    todo: list[tuple[Any, int]] = [(data, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise _Refused("a string is not valid Unicode (lone surrogate)") from None
        elif isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _Refused(f"nested deeper than {MAX_JSON_DEPTH} levels")
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            todo.extend((child, depth + 1) for child in children)


def _parse_json(raw: bytes) -> Any:
    try:
        data = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
        _check_tree(data)
    except UnicodeDecodeError:
        raise SchemaViolation("the body is not UTF-8 JSON", box="header") from None
    except (ValueError, RecursionError) as exc:
        raise SchemaViolation(
            f"the body is not valid JSON: {str(exc)[:120]}", box="header"
        ) from None
    return data


def _b64(text: str | None, what: str) -> bytes | None:
    return None if text is None else decode_base64(text, what)


def _flatten(messages: Any, path: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error dict as (JSON path, message) pairs, depth-first."""
    if isinstance(messages, dict):
        return [
            pair
            for key, sub in messages.items()
            for pair in _flatten(sub, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(messages, list):
        return [pair for sub in messages for pair in _flatten(sub, path)]
    return [(path or "body", str(messages))]


def _invalid(exc: ValidationError) -> SchemaViolation:
    """One finding per field, named by its JSON path: never a Python repr on the wire."""
    pairs = _flatten(exc.messages)
    findings = tuple(
        Finding(SchemaViolation.code, "header", clip(f"{where}: {text}", 200))
        for where, text in pairs
    )
    first = f"{pairs[0][0]}: {pairs[0][1]}" if pairs else "invalid request"
    more = f" (and {len(pairs) - 1} more)" if len(pairs) > 1 else ""
    return SchemaViolation(
        clip(f"invalid request: {first}{more}", 200), box="header", findings=findings
    )


@bp.post("/documents")
def submit() -> Response:
    g.via, g.operation = "rest", "submit"
    try:
        g.caller = identify(exchange().settings)
        data = _parse_json(body())
        try:
            msg = SubmitSchema().load(data) if isinstance(data, dict) else None
        except ValidationError as exc:
            raise _invalid(exc) from None
        if msg is None:
            raise SchemaViolation("the body must be a JSON object", box="header")
        if msg["documentXml"] is not None and msg["document"] is not None:
            # One document per message: what is verified must be what is stored.
            raise SchemaViolation("send either document or documentXml, not both", box="header")
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
            agreement=h["agreementCode"],
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
        return refuse(exc, "rest")
    g.message_id, g.result_code = receipt.message_id, "accepted"
    answer = {
        "messageId": receipt.message_id,
        "status": str(receipt.status),
        "receivedAt": receipt.received_at.isoformat(),
        "referenceNo": receipt.reference_no,
        "findings": [f.as_dict() for f in receipt.findings],
    }
    if receipt.signed is not None:
        answer["signedReceipt"] = base64.b64encode(receipt.signed).decode()
    return jsonify(ReceiptSchema().dump(answer))


@bp.get("/certificates/<country>/<path:reference_no>")
def certificate_status(country: str, reference_no: str) -> Response:
    g.operation = "status"
    try:
        g.caller = identify(exchange().settings)
        body = request.args.get("issuingBody", "")
        st = exchange().status(country, reference_no, caller=g.caller, issuing_body=body)
    except Rejected as exc:
        return refuse(exc, "rest")
    return jsonify(status_body(country, reference_no, st, body))
