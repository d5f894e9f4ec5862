"""Every REST exchange of the test suite is checked against the published OpenAPI document.

The document read is the committed ``ak_bridge/standard/openapi.json`` (what integrators
get), and the checker is openapi-schema-validator's OAS 3.1 validator, not our own code: an
answer the document does not describe, or a request accepted that it forbids, fails the test
that made it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import requests
from openapi_schema_validator import OAS31Validator

SPEC = Path(__file__).parents[1] / "ak_bridge" / "standard" / "openapi.json"


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text("utf-8"))


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}", "components": spec()["components"]}


def _operation(method: str, path: str) -> dict[str, Any] | None:
    for template, ops in spec()["paths"].items():
        # {referenceNo} is the rest of the path: Form AK reference numbers hold '/'.
        pattern = re.sub(r"\\\{referenceNo\\\}", ".+", re.escape(template))
        pattern = "\\A" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern) + "\\Z"
        if re.match(pattern, path) and method.lower() in ops:
            return ops[method.lower()]
    return None


def check(resp: requests.Response) -> None:
    """Raise ``jsonschema.ValidationError`` unless request and answer match the document."""
    req = resp.request
    path = requests.utils.urlparse(req.url).path
    if not path.startswith("/rest/"):
        return
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = resp.json()
    op = _operation(req.method or "GET", path)
    if resp.status_code >= 400:
        OAS31Validator(_ref("Error")).validate(body)
        if op is not None:
            assert str(resp.status_code) in op["responses"], (path, resp.status_code)
        return
    assert op is not None, f"{req.method} {path} answered {resp.status_code} but is undocumented"
    schema = op["responses"][str(resp.status_code)]["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": spec()["components"]}).validate(body)
    if "requestBody" in op and req.body:
        req_schema = op["requestBody"]["content"]["application/json"]["schema"]
        sent = json.loads(req.body)
        OAS31Validator({**req_schema, "components": spec()["components"]}).validate(sent)
