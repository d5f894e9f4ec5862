"""Issue 10 part 2: every example of docs/integration-guide.md is run, so the guide cannot drift.

The canonical JSON vectors are checked against the bridge's own canonical form and the
independent client's (tests/integrator/canonical.py); the SOAP and REST request examples are
filled with really signed documents and sent to a running bridge; the receiver replies are
served by a loopback partner to the bridge's REST sender, which must deliver or dead-letter
as the guide's table says; and every code, status and state the bridge can answer is named.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template

import pytest
import requests
from integrator.canonical import canonical_json as independent_canonical
from openapi_check import spec
from openapi_schema_validator import OAS31Validator

from ak_bridge.adapters.outbound.rest import RestSender
from ak_bridge.core import errors
from ak_bridge.core.errors import FailureClass, PartnerRejected
from ak_bridge.core.model import CertificateState, DocumentType, Envelope, MessageFunction
from ak_bridge.core.retry import RetryPolicy
from ak_bridge.core.settings import Channel, PartnerConfig
from ak_bridge.security.signing import canonical_json
from ak_bridge.service.delivery import Outbound, Sent
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology

ROOT = Path(__file__).parents[1]
GUIDE = ROOT / "docs" / "integration-guide.md"
EXAMPLES = ROOT / "docs" / "examples"
TODAY = datetime.now(UTC).date()
VECTORS = json.loads((EXAMPLES / "canonical-json" / "vectors.json").read_text("utf-8"))


def test_every_example_file_is_in_the_guide_and_every_link_exists() -> None:
    text = GUIDE.read_text("utf-8")
    linked = set(re.findall(r"\(examples/([^)]+)\)", text))
    for rel in linked:
        assert (EXAMPLES / rel).exists(), rel
    for path in EXAMPLES.rglob("*"):
        if path.is_file():
            rel = path.relative_to(EXAMPLES).as_posix()
            assert any(rel == link or rel.startswith(link) for link in linked), rel


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_canonical_json_vectors(vector: dict[str, str]) -> None:
    document = json.loads(vector["input"])
    expected = vector["canonical"].encode("utf-8")
    assert canonical_json(document) == expected  # the bridge
    assert independent_canonical(document) == expected  # a client written from the guide
    assert hashlib.sha256(expected).hexdigest() == vector["sha256"]


@pytest.mark.parametrize("vector", VECTORS["wrong"], ids=lambda v: v["name"])
def test_the_forms_the_guide_calls_wrong_are_not_canonical(vector: dict[str, str]) -> None:
    assert canonical_json(json.loads(vector["input"])) != vector["not_canonical"].encode()


def test_the_rest_example_matches_the_openapi_document(
    topology: Topology, bridge: Exchange
) -> None:
    body = json.loads((EXAMPLES / "rest-submit.json").read_text("utf-8"))
    schema = spec()["paths"]["/rest/v1/documents"]["post"]["requestBody"]["content"]
    validator = OAS31Validator(
        {**schema["application/json"]["schema"], "components": spec()["components"]}
    )
    validator.validate(body)
    vn = topology.systems["VN-ECOSYS"]
    co = sample_form_ak("VN-GUIDE-1", "VN", "KR", TODAY)
    _, document, signature = vn.document_for(co)
    assert signature is not None
    body["header"].update(referenceNo=co.reference_no, sentAt=datetime.now(UTC).isoformat())
    body["document"] = document
    body["signature"] = base64.b64encode(signature).decode()
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents",
        data=json.dumps(body).encode(),
        headers={**vn.auth_headers(), "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"


def test_the_soap_example_is_accepted(topology: Topology, bridge: Exchange) -> None:
    ska = topology.systems["ID-SKA"]
    co = sample_form_ak("ID-GUIDE-1", "ID", "KR", TODAY)
    xml, _, _ = ska.document_for(co)
    assert xml is not None
    request = Template((EXAMPLES / "soap-ams-submit.xml").read_text("utf-8")).substitute(
        MESSAGE_ID="ID-GUIDE-MSG-1",
        SENT_AT=datetime.now(UTC).isoformat(),
        REFERENCE_NO=co.reference_no,
        DOCUMENT_BASE64=base64.b64encode(xml).decode(),
    )
    resp = requests.post(
        topology.bridge_url + "/soap/ams",
        data=request.encode("utf-8"),
        headers={**ska.auth_headers(), "Content-Type": "text/xml; charset=utf-8"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert b"<Status>accepted</Status>" in resp.content.replace(b"ams:", b"")


@pytest.fixture
def partner_replying() -> Iterator[tuple[list[bytes], str]]:
    """A loopback REST partner answering whatever the test puts in ``answers``."""
    answers: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            body = answers[0]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield answers, f"http://127.0.0.1:{server.server_port}/receive"
    server.shutdown()
    server.server_close()


def _deliver(endpoint: str) -> Sent:
    partner = PartnerConfig(
        id="VN-ECOSYS",
        country="VN",
        channel=Channel.REST,
        endpoint=endpoint,
        format="vn_ecosys",
        certificates=(),
        retry=RetryPolicy(),
    )
    envelope = Envelope(
        sender="AK-BRIDGE",
        receiver="VN-ECOSYS",
        document_type=DocumentType.FORM_AK,
        function=MessageFunction.ORIGINAL,
        message_id="AKB-GUIDE-1",
        sent_at=datetime.now(UTC),
    )
    message = Outbound(1, "AKB-GUIDE-1", envelope, b'{"document": {}}', "application/json")
    return RestSender().send(partner, message)


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (EXAMPLES / "receiver-replies").glob("*.json"))
)
def test_receiver_replies_are_delivered_or_dead_lettered_as_the_guide_says(
    partner_replying: tuple[list[bytes], str], name: str
) -> None:
    answers, endpoint = partner_replying
    answers.append((EXAMPLES / "receiver-replies" / f"{name}.json").read_bytes())
    if name.startswith("dead-lettered"):
        with pytest.raises(PartnerRejected) as caught:
            _deliver(endpoint)
        assert caught.value.failure_class is FailureClass.BUSINESS
        assert not caught.value.retryable
    else:
        assert _deliver(endpoint).receipt == name


def _codes() -> set[str]:
    found = set()
    todo = [errors.Rejected]
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo.extend(cls.__subclasses__())
    return found | {errors.InternalError.code}


def test_every_code_status_and_state_is_documented() -> None:
    guide = GUIDE.read_text("utf-8")
    readme = (ROOT / "README.md").read_text("utf-8")
    assert 'README.md, "Error codes"' in guide
    for code in _codes():
        assert f"`{code}`" in readme, code
    receipt = spec()["components"]["schemas"]["Receipt"]["properties"]["status"]["enum"]
    for word in [*receipt, *(s.value for s in CertificateState)]:
        assert f"`{word}`" in guide, word
    for word in [*(d.value for d in DocumentType), *(f.value for f in MessageFunction)]:
        assert f"`{word}`" in guide, word
    for cls in FailureClass:
        assert f"`{cls.value}`" in guide, cls
