"""The OpenAPI 3.1 description of /rest/v1, generated from the schemas the endpoint uses.

Generated (apispec's marshmallow plugin), not written by hand, so the document cannot
describe fields the code does not load. The committed copy,
``ak_bridge/standard/openapi.json``, is what integrators read beside the WSDLs; a test
regenerates it and fails when the two differ (``scripts/make-schemas`` rewrites it).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response

from ak_bridge.adapters.web import rest_schemas as rs

bp = Blueprint("openapi", __name__, url_prefix="/rest/v1")
TITLE = "ak-bridge REST API"
VERSION = "1.0.0"
ERROR_STATUSES = {
    "400": "refused: malformed or hostile body, bad envelope",
    "401": "no or wrong bearer token",
    "403": "bad or untrusted signature, unknown partner, or not authorized",
    "404": "no such endpoint, or no such certificate visible to the caller",
    "405": "method not allowed (see the Allow header)",
    "409": "duplicate with other content, or the certificate's state forbids this",
    "413": "body larger than the configured limit",
    "422": "schema, business rule or translation failure (findings name the boxes)",
    "500": "the bridge's own failure (audited; no detail)",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {
        c: {
            "description": ERROR_STATUSES[c],
            "content": {"application/json": {"schema": "Error"}},
        }
        for c in codes
    }


def build() -> dict[str, Any]:
    """The OpenAPI document as a dict (deterministic: keys sorted when serialised)."""
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Submit e-Form AK certificates and lifecycle messages as JSON, "
            "and read a certificate's status. The normative rules (signing, canonical "
            "JSON, codes) are in docs/integration-guide.md. Field names are camelCase.",
        },
        servers=[{"url": "/"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in (
        ("Header", rs.HeaderSchema),
        ("Submit", rs.SubmitSchema),
        ("Finding", rs.FindingSchema),
        ("Receipt", rs.ReceiptSchema),
        ("Event", rs.EventSchema),
        ("Status", rs.StatusSchema),
        ("ErrorDetail", rs.ErrorDetailSchema),
        ("Error", rs.ErrorSchema),
    ):
        spec.components.schema(name, schema=schema)
    spec.path(
        path="/rest/v1/documents",
        operations={
            "post": {
                "operationId": "submitDocument",
                "summary": "Submit a certificate or a lifecycle message",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "Submit"}},
                },
                "responses": {
                    "200": {
                        "description": "accepted, or a duplicate of an accepted message",
                        "content": {"application/json": {"schema": "Receipt"}},
                    },
                    **_errors("400", "401", "403", "405", "409", "413", "422", "500"),
                },
            }
        },
    )
    spec.path(
        path="/rest/v1/certificates/{issuingCountry}/{referenceNo}",
        operations={
            "get": {
                "operationId": "certificateStatus",
                "summary": "A certificate's state and timeline",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "issuingCountry",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "referenceNo",
                        "in": "path",
                        "required": True,
                        "description": "the rest of the path, its '/' as they are "
                        "(Form AK reference numbers hold '/'); other reserved characters "
                        "percent-encoded",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "issuingBody",
                        "in": "query",
                        "required": False,
                        "description": "the CO's issuing body (e-Form AK 1.1 "
                        "Certification/IssuingBody, e.g. KCS, KCCI): part of the CO's "
                        "identity; absent, the CO that names none",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the state and the caller's view of the timeline",
                        "content": {"application/json": {"schema": "Status"}},
                    },
                    **_errors("401", "404", "405", "500"),
                },
            }
        },
    )
    spec.path(
        path="/rest/v1/openapi.json",
        operations={
            "get": {
                "operationId": "openapi",
                "summary": "This document (no authentication)",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    )
    return spec.to_dict()


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@cache
def committed() -> str:
    return resources.files("ak_bridge.standard").joinpath("openapi.json").read_text("utf-8")


@bp.get("/openapi.json")
def openapi() -> Response:
    """The committed document: what integrators download is byte for byte what is served."""
    return Response(committed(), content_type="application/json")
