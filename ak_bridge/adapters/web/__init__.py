"""Inbound adapters: SOAP for KCS and AMS systems, REST/JSON for AMS systems, health.

Every ``Rejected`` raised below becomes the same typed error on the wire (SOAP fault detail
or JSON body) as in the audit trail.
"""

from __future__ import annotations

from flask import Flask, Response

from ak_bridge.adapters.web import edge, health, observe, openapi, rest, soap_endpoints
from ak_bridge.service.exchange import Exchange


def register(app: Flask, exchange: Exchange) -> None:
    app.extensions["ak_bridge"] = exchange
    app.after_request(_challenge)
    edge.install(app)
    observe.install(app)
    app.register_blueprint(soap_endpoints.bp)
    app.register_blueprint(rest.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(health.bp)


def _challenge(response: Response) -> Response:
    """A 401 says which scheme to use (RFC 7235), and nothing else."""
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ak-bridge"'
    return response
