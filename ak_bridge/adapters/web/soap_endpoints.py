"""The SOAP endpoints: /soap/kcs (UNI-PASS contract) and /soap/ams (AMS contract)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, request

from ak_bridge.adapters.web import soap
from ak_bridge.adapters.web.auth import identify
from ak_bridge.adapters.web.context import body, exchange
from ak_bridge.core.errors import BadEnvelope, Rejected
from ak_bridge.service.exchange import Inbound
from ak_bridge.standard.contracts import AMS, KCS, SoapContract

log = logging.getLogger(__name__)
bp = Blueprint("soap", __name__)


def _xml(data: bytes, status: int = 200) -> Response:
    return Response(data, status=status, content_type=soap.CONTENT_TYPE)


def _serve(contract: SoapContract) -> Response:
    if request.method == "GET":
        if "wsdl" in {k.lower() for k in request.args}:
            address = request.base_url
            return _xml(soap.wsdl_document(contract, address))
        return Response("POST SOAP 1.1 here, or GET ?wsdl\n", status=405, mimetype="text/plain")
    g.via, g.operation = f"soap/{contract.name}", "submit"  # until the body says otherwise
    try:
        g.caller = identify(exchange().settings)
        element = soap.unwrap(body(), contract)
        operation = element.tag.split("}")[1]
        g.operation = "submit" if operation == contract.submit else operation
        if operation == contract.submit:
            inbound = Inbound(
                via=f"soap/{contract.name}",
                envelope=soap.read_envelope(element, contract),
                xml=soap.read_document(element, contract),
                caller=g.caller,
            )
            receipt = exchange().accept(inbound)
            g.message_id, g.result_code = receipt.message_id, "accepted"
            return _xml(soap.receipt_response(receipt, contract))
        if operation == contract.query:
            country, ref = soap.read_query(element, contract)
            st = exchange().status(country, ref, caller=g.caller)
            return _xml(soap.status_response(contract, country, ref, st["state"], st["events"]))
        raise BadEnvelope(f"operation {operation} is not offered here")
    except Rejected as exc:
        g.result_code = exc.code
        exchange().audit_rejection(exc, f"soap/{contract.name}")
        return _xml(soap.fault_response(exc, contract), status=_fault_status(exc))
    except Exception:
        g.result_code = "internal_error"
        log.exception("internal error on %s", contract.path)
        return _xml(soap.server_fault(contract, "internal error; the message was not stored"), 500)


def _fault_status(exc: Rejected) -> int:
    # SOAP 1.1 over HTTP answers every fault with 500, except what never reached SOAP.
    return exc.http_status if exc.http_status in (401, 413) else 500


@bp.route(KCS.path, methods=["GET", "POST"])
def kcs() -> Response:
    return _serve(KCS)


@bp.route(AMS.path, methods=["GET", "POST"])
def ams() -> Response:
    return _serve(AMS)
