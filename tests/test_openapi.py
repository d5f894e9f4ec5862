"""Issue 10 part 1: the REST contract is published, checked independently, and kept.

The OpenAPI document is generated from the schemas the endpoint loads and dumps; the
committed copy must equal a fresh generation, an independent validator must accept it, the
running bridge must serve it, and every error under /rest must have its one JSON shape.
(Every REST exchange elsewhere in the suite is also checked against it: tests/openapi_check.py.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
from bridge_client import rest_status
from openapi_check import SPEC
from openapi_spec_validator import validate

from ak_bridge.adapters.web import openapi
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import rest_body

TODAY = datetime.now(UTC).date()
REGENERATE = "scripts/make-schemas"


def test_the_committed_document_is_what_the_schemas_generate() -> None:
    assert SPEC.read_text("utf-8") == openapi.render(), f"stale: run {REGENERATE}"


def test_an_independent_validator_accepts_the_document() -> None:
    document = json.loads(SPEC.read_text("utf-8"))
    assert document["openapi"].startswith("3.1")
    validate(document)  # openapi-spec-validator, OAS 3.1 rules


def test_the_bridge_serves_the_document_without_a_token(
    topology: Topology, bridge: Exchange
) -> None:
    resp = requests.get(topology.bridge_url + "/rest/v1/openapi.json", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.content == SPEC.read_bytes()


def test_integrators_find_the_document_from_the_wsdl_readme() -> None:
    readme = (SPEC.parents[2] / "wsdl" / "README.md").read_text("utf-8")
    assert "ak_bridge/standard/openapi.json" in readme
    assert "/rest/v1/openapi.json" in readme


@pytest.mark.parametrize("path", ["/rest/v1", "/rest/v1/certificates", "/rest/v1/messages"])
def test_unknown_rest_paths_answer_the_one_error_shape(
    topology: Topology, bridge: Exchange, path: str
) -> None:
    resp = requests.get(topology.bridge_url + path, timeout=10)
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert set(error) == {"code", "box", "message", "findings"}
    assert error["code"] == "unknown_endpoint"


def test_a_missing_field_is_named_by_its_path_never_a_python_repr(
    topology: Topology, bridge: Exchange
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak("VN-OAS-1", "VN", "KR", TODAY)
    _, document, signature = vn.document_for(co)
    body = rest_body(vn.envelope_for(co, "V-OAS-1"), document, signature)
    del body["header"]["senderId"]
    body["header"]["sender_id"] = "VN-ECOSYS"  # the other convention is refused, not ignored
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents",
        data=json.dumps(body).encode(),
        headers={**vn.auth_headers(), "Content-Type": "application/json"},
        timeout=30,
    )
    error = resp.json()["error"]
    assert error["code"] == "schema_violation"
    assert "{'" not in resp.text and "['" not in resp.text
    assert sorted(f["message"] for f in error["findings"]) == [
        "header.senderId: Missing data for required field.",
        "header.sender_id: Unknown field.",
    ]


def test_status_fields_are_camel_case(topology: Topology, bridge: Exchange) -> None:
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak("VN-OAS-2", "VN", "KR", TODAY)
    _, document, signature = vn.document_for(co)
    body = rest_body(vn.envelope_for(co, "V-OAS-2"), document, signature)
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents",
        data=json.dumps(body).encode(),
        headers={**vn.auth_headers(), "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    answer = rest_status(topology.bridge_url, vn.auth_headers(), "VN", "VN-OAS-2")
    status = json.loads(answer.content)
    assert status["events"], status
    keys = set(status) | {k for e in status["events"] for k in e}
    assert all("_" not in k for k in keys), keys
    assert status["events"][0]["messageId"] == resp.json()["messageId"]
