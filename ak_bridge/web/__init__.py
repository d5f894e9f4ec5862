"""Inbound adapters: SOAP for KCS and AMS systems, REST/JSON for AMS systems, health.

Every ``Rejected`` raised below becomes the same typed error on the wire (SOAP fault detail
or JSON body) as in the audit trail.
"""

from __future__ import annotations

from flask import Flask

from ..exchange import Exchange
from . import health, rest, soap_endpoints


def register(app: Flask, exchange: Exchange) -> None:
    app.extensions["ak_bridge"] = exchange
    app.register_blueprint(soap_endpoints.bp)
    app.register_blueprint(rest.bp)
    app.register_blueprint(health.bp)
