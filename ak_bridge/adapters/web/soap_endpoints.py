"""The SOAP endpoints: /soap/kcs (UNI-PASS contract) and /soap/ams (AMS contract)."""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, request

from ak_bridge.adapters.web import soap
from ak_bridge.adapters.web.auth import identify
from ak_bridge.adapters.web.context import body, exchange
from ak_bridge.adapters.web.edge import refuse
from ak_bridge.core.errors import BadEnvelope, MethodNotAllowed, Rejected
from ak_bridge.service.exchange import Inbound
from ak_bridge.standard.contracts import AMS, KCS, SoapContract

bp = Blueprint("soap", __name__)


def _xml(data: bytes, status: int = 200) -> Response:
    return Response(data, status=status, content_type=soap.CONTENT_TYPE)


_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


def _public_address() -> str:
    """Where partners reach this endpoint, for the WSDL's ``soap:address``.

    Behind a TLS-terminating proxy the bridge itself sees plain HTTP; the proxy's
    ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are believed only from the addresses in
    ``[auth] trusted_proxies`` (anyone else could make the WSDL point partners elsewhere).
    """
    scheme, host = request.scheme, request.host
    if request.remote_addr in exchange().settings.auth.trusted_proxies:
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        forwarded_host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        scheme = proto if proto in ("http", "https") else scheme
        host = forwarded_host if _HOST.fullmatch(forwarded_host) else host
    return f"{scheme}://{host}{request.path}"


def _serve(contract: SoapContract) -> Response:
    if request.method == "GET":
        if "wsdl" in {k.lower() for k in request.args}:
            return _xml(soap.wsdl_document(contract, _public_address()))
        return refuse(MethodNotAllowed("POST SOAP 1.1 here, or GET ?wsdl", allowed=("POST",)))
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
        return refuse(exc, f"soap/{contract.name}")


@bp.route(KCS.path, methods=["GET", "POST"])
def kcs() -> Response:
    return _serve(KCS)


@bp.route(AMS.path, methods=["GET", "POST"])
def ams() -> Response:
    return _serve(AMS)
