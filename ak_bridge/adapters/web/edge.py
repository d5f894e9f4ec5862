"""Whatever goes wrong, the answer has the endpoint's own shape, a code, and an audit row.

A SOAP fault under ``/soap/``, a JSON error elsewhere: unknown paths and methods used to get
Flask's HTML pages (a 405 without ``Allow``), and an unexpected exception a 500 that wrote
nothing to the audit trail. Refusals of unidentified callers (bad tokens, probed paths) are
audited as series (:class:`RepeatedFailures`), so nobody can grow the trail at will.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug import exceptions as http

from ak_bridge.adapters.web import soap
from ak_bridge.adapters.web.auth import RepeatedFailures, credentials_digest
from ak_bridge.adapters.web.context import exchange
from ak_bridge.core.errors import (
    InternalError,
    MethodNotAllowed,
    PayloadTooLarge,
    Rejected,
    Unauthenticated,
    UnknownEndpoint,
    clip,
)
from ak_bridge.service.ports import AuditEvent
from ak_bridge.standard.contracts import AMS, KCS, SoapContract

log = logging.getLogger(__name__)
SERIES = (Unauthenticated, UnknownEndpoint, MethodNotAllowed)  # refused before knowing who
PATH_SHOWN = 100  # characters of a requested path quoted in an answer or an audit row


def install(app: Flask) -> None:
    app.extensions["ak_bridge.failures"] = RepeatedFailures()
    app.register_error_handler(http.HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_close_ended_series)
    app.after_request(_close_after_413)


def via() -> str:
    """The endpoint as the audit trail names it: ``soap/kcs``, ``rest``, ``http``."""
    if request.path.startswith("/soap/"):
        return "soap/" + request.path.removeprefix("/soap/").split("/")[0][:20]
    return "rest" if request.path.startswith("/rest/") else "http"


def _contract() -> SoapContract:
    return KCS if request.path.startswith(KCS.path) else AMS


def answer(exc: Rejected | InternalError) -> Response:
    """The error in the endpoint's shape; a SOAP fault travels with 500 (SOAP 1.1 over
    HTTP) unless it never reached SOAP (401, 404, 405, 413)."""
    if request.path.startswith("/soap/"):
        status = exc.http_status if exc.http_status in (401, 404, 405, 413) else 500
        resp = Response(
            soap.fault_response(exc, _contract()), status, content_type=soap.CONTENT_TYPE
        )
    else:
        resp = jsonify({"error": exc.as_dict()})
        resp.status_code = exc.http_status
    if isinstance(exc, MethodNotAllowed):
        resp.headers["Allow"] = ", ".join(exc.allowed)
    return resp


def refuse(exc: Rejected, endpoint: str | None = None) -> Response:
    """Audit a refusal (once; an unidentified caller's repeats only counted) and answer it."""
    g.result_code = exc.code  # for the access line (observe.py)
    endpoint = endpoint or via()
    if isinstance(exc, SERIES) and not exc.audited:
        route = request.url_rule.rule if request.url_rule is not None else endpoint
        key = (
            exc.code,
            route,
            request.remote_addr or "-",
            credentials_digest(exchange().settings),
        )
        if not _failures().record(key, time.monotonic()):
            exc.audited = True  # counted in its series instead
    exchange().audit_rejection(exc, endpoint)
    return answer(exc)


def _http_error(exc: http.HTTPException) -> Response:
    code = exc.code or 500
    if code >= 500:
        return _unexpected(exc)
    path = clip(request.path, PATH_SHOWN)
    rejected: Rejected
    if isinstance(exc, http.NotFound):
        rejected = UnknownEndpoint(f"no endpoint at {path}")
    elif isinstance(exc, http.MethodNotAllowed):
        allowed = tuple(sorted(exc.valid_methods or ()))
        rejected = MethodNotAllowed(f"{request.method} is not allowed on {path}", allowed=allowed)
    elif isinstance(exc, http.RequestEntityTooLarge):
        rejected = PayloadTooLarge("body larger than the configured limit")
    else:
        rejected = Rejected(f"{code} {exc.name}")
        rejected.http_status = code
    return refuse(rejected)


def _unexpected(exc: Exception) -> Response:
    """Our failure, never the caller's: no detail in the answer, one audit row, the log."""
    g.result_code = InternalError.code
    original = getattr(exc, "original_exception", None) or exc
    log.error("internal error on %s %s", request.method, request.path, exc_info=original)
    try:
        ex = exchange()
        ex.store.audit(
            AuditEvent(
                ex.clock(),
                "internal_error",
                partner=g.get("caller"),
                code=InternalError.code,
                detail=f"{via()} {request.method} {clip(request.path, PATH_SHOWN)}: "
                f"{type(original).__name__}",
            )
        )
    except Exception:  # the store itself may be what failed: the log line must do
        log.exception("could not audit the internal error")
    return answer(InternalError())


def _close_ended_series() -> None:
    ended = _failures().ended(time.monotonic())
    if not ended:
        return
    ex = exchange()
    for (code, endpoint, address, digest), repeats in ended:
        ex.store.audit(
            AuditEvent(
                ex.clock(),
                "rejected",
                code=code,
                detail=f"{endpoint}: {repeats} more identical refusals from {address} "
                f"(credentials {digest})",
            )
        )


def _close_after_413(response: Response) -> Response:
    """The body of a refused upload is still on the wire: close rather than read it all.

    Also when it was refused for another reason first (a 401 comes before the size check).
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    oversize = limit is not None and (request.content_length or 0) > limit
    if response.status_code == 413 or oversize:
        response.headers["Connection"] = "close"
    return response


def _failures() -> RepeatedFailures:
    return current_app.extensions["ak_bridge.failures"]
