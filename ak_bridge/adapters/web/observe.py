"""One access-log line and the inbound counters for every request, in one after-request hook.

Why here and not gunicorn's access log: only the app knows which partner called, which
operation it asked for, the message id it was given and the error code it was refused with.
Handlers note those on ``flask.g`` (``operation``, ``message_id``, ``result_code``); the
partner is ``g.caller``, set when the caller was identified.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from ak_bridge.adapters.telemetry import ACCEPT_SECONDS, INBOUND
from ak_bridge.logs import ACCESS

log = logging.getLogger(ACCESS)

SUBMIT = "submit"  # g.operation of every inbound submission (SOAP or REST), as counted


def install(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    partner = g.get("caller") or "-"
    operation = g.get("operation") or "-"
    code = g.get("result_code") or ("ok" if response.status_code < 400 else "-")
    if operation == SUBMIT:
        accepted = code == "accepted"
        INBOUND.labels(partner, "accepted" if accepted else "refused", code).inc()
        ACCEPT_SECONDS.labels(g.get("via", "-")).observe(seconds)
    if request.path != "/metrics" or response.status_code >= 400:
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "remote": request.remote_addr,
                "partner": partner,
                "operation": operation,
                "message_id": g.get("message_id") or "-",
                "code": code,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
            },
        )
    return response
