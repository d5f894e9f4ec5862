"""Hostile input against a running bridge: a typed refusal, one audit row, nothing else.

Every item of ``tests/hostile/`` goes to /soap/kcs, /soap/ams and /rest/v1/documents of a
real bridge on loopback, authenticated as a valid partner (KR-KCS, ID-SKA and VN-ECOSYS
respectively). For each the test asserts the typed code (fault detail or JSON body), the
HTTP status, that no message, delivery, attempt or certificate was stored, that exactly one
``rejected`` audit row with that code was written, and that the answer leaks nothing (file
contents, tokens, key material, tracebacks, server paths). After the whole corpus, valid
submissions still succeed and the audit chain is intact.

One bridge serves the whole module: the point is also that it survives all of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from hostile_corpus import (
    CONTRACTS,
    ENDPOINT_PARTNER,
    Item,
    Materials,
    cases,
    corpus_files,
    error_code,
    load_manifest,
)

from ak_bridge.core.errors import MalformedXml, rejection_classes
from ak_bridge.security import xmlio
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import Topology, build_topology

ITEMS = load_manifest()
CASES = list(cases(ITEMS))
HTTP_STATUS = {cls.code: cls.http_status for cls in rejection_classes()}
TWELVE_MB = 12 * 1024 * 1024
TABLES = ("messages", "deliveries", "attempts", "certificates", "audit")


@dataclass
class Target:
    topology: Topology
    bridge: Exchange
    materials: Materials
    session: requests.Session

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        return self.session.post(
            self.topology.bridge_url + path, data=body, headers=headers, timeout=30
        )


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One bridge for the whole corpus; partner systems stay down (nothing is delivered)."""
    topology = build_topology(tmp_path_factory.mktemp("hostile") / "exchange", start_partners=())
    bridge = topology.start_bridge()
    with requests.Session() as session:
        yield Target(topology, bridge, Materials(topology), session)
    topology.stop()


def counts(bridge: Exchange) -> dict[str, int]:
    db = bridge.store.db
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def secrets_of(topology: Topology) -> list[bytes]:
    """What must never appear in an answer: tokens, their hashes, key material, paths."""
    out = [topology.admin_token.encode(), str(topology.workdir).encode()]
    for system in topology.systems.values():
        assert system.token
        out.append(system.token.encode())
    for partner in topology.settings.partners.values():
        out.extend(h.encode() for h in partner.token_hashes)
    out.extend(h.encode() for h in topology.settings.auth.admin_token_hashes)
    out += [b"PRIVATE KEY", b"Traceback", b'File "', b"root:x:0:0"]
    passwd = Path("/etc/passwd")
    if passwd.is_file():
        out += [line for line in passwd.read_bytes().splitlines() if len(line) >= 12]
    return out


def expected_status(endpoint: str, code: str) -> int:
    if endpoint == "rest":
        return HTTP_STATUS[code]
    # SOAP 1.1 over HTTP answers a fault with 500, except what never reached SOAP.
    return HTTP_STATUS[code] if HTTP_STATUS[code] in (401, 413) else 500


def assert_refused_and_nothing_changed(
    target: Target,
    before: dict[str, int],
    endpoint: str,
    resp: requests.Response,
    expect: str,
) -> None:
    got = error_code(endpoint, resp.content)
    assert got == expect, f"HTTP {resp.status_code}: {resp.content[:500]!r}"
    assert resp.status_code == expected_status(endpoint, expect)
    after = counts(target.bridge)
    stored = {t: after[t] - before[t] for t in TABLES}
    assert stored == {**dict.fromkeys(TABLES, 0), "audit": 1}, stored
    (row,) = target.bridge.store.audit_events(limit=1)
    assert (row["event"], row["code"], row["message_id"]) == ("rejected", expect, None)
    for secret in secrets_of(target.topology):
        assert secret not in resp.content, f"answer leaks {secret[:40]!r}"
        assert secret.decode(errors="replace") not in str(resp.headers)


def _case_id(case: tuple[Item, str, str, str]) -> str:
    item, endpoint, placement, _ = case
    return f"{item.file}|{endpoint}|{placement}"


@pytest.mark.parametrize(
    ("item", "endpoint", "placement", "expect"), CASES, ids=map(_case_id, CASES)
)
def test_hostile_input_is_refused_with_its_code_and_changes_nothing(
    target: Target, item: Item, endpoint: str, placement: str, expect: str
) -> None:
    path, body, headers = target.materials.request_for(item, endpoint, placement)  # type: ignore[arg-type]
    before = counts(target.bridge)
    resp = target.post(path, body, headers)
    assert_refused_and_nothing_changed(target, before, endpoint, resp, expect)


def _twelve_mb_text_node() -> bytes:
    """Generated here, never committed: one text node past libxml2's 10 MB limit."""
    return (
        b"<CertificateOfOrigin><Exporter>" + b"A" * TWELVE_MB + b"</Exporter></CertificateOfOrigin>"
    )


def _over_limit(target: Target) -> bytes:
    return b"<x>" + b" " * (target.topology.settings.max_body_bytes + 1) + b"</x>"


@pytest.mark.parametrize("endpoint", ["soap/kcs", "soap/ams", "rest"])
@pytest.mark.parametrize("variant", ["12MB-text-node", "12MB-chunked", "one-byte-over-limit"])
def test_oversized_body_is_payload_too_large_and_changes_nothing(
    target: Target, endpoint: str, variant: str
) -> None:
    path = CONTRACTS[endpoint].path if endpoint in CONTRACTS else "/rest/v1/documents"
    headers = target.materials.auth_headers(ENDPOINT_PARTNER[endpoint])
    body = _over_limit(target) if variant == "one-byte-over-limit" else _twelve_mb_text_node()
    before = counts(target.bridge)
    if variant == "12MB-chunked":  # no Content-Length: the limit must hold while reading

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(body), 256 * 1024):
                yield body[i : i + 256 * 1024]

        data: object = chunks()
    else:
        data = body
    # A fresh connection: the server may close it without reading what it refused.
    resp = requests.post(target.topology.bridge_url + path, data=data, headers=headers, timeout=60)
    assert_refused_and_nothing_changed(target, before, endpoint, resp, "payload_too_large")


def test_parser_alone_refuses_a_12_mb_text_node() -> None:
    """Below the HTTP limit, libxml2's own 10 MB text-node limit still holds (no huge_tree)."""
    with pytest.raises(MalformedXml, match="not well-formed"):
        xmlio.parse_untrusted(_twelve_mb_text_node())


def test_every_corpus_file_is_in_the_manifest_and_every_code_is_exercised() -> None:
    assert {item.file for item in ITEMS} == corpus_files()
    assert len({item.file for item in ITEMS}) == len(ITEMS), "a file is listed twice"
    expected = {expect for _, _, _, expect in CASES} | {"payload_too_large"}
    assert expected >= {
        "malformed_xml",
        "forbidden_xml",
        "bad_envelope",
        "schema_violation",
        "signature_invalid",
        "payload_too_large",
    }


def test_service_keeps_serving_after_the_whole_corpus(target: Target) -> None:
    """Runs last in this module: after everything above, genuine submissions still succeed."""
    m = target.materials
    for endpoint, contract in CONTRACTS.items():
        partner_id = ENDPOINT_PARTNER[endpoint]
        before = counts(target.bridge)
        headers = {**m.auth_headers(partner_id), "Content-Type": "text/xml; charset=utf-8"}
        resp = target.post(contract.path, m.valid_soap_request(contract, partner_id), headers)
        assert resp.status_code == 200, resp.content[:500]
        after = counts(target.bridge)
        assert (
            after["messages"] - before["messages"],
            after["deliveries"] - before["deliveries"],
        ) == (1, 1)
    before = counts(target.bridge)
    headers = {**m.auth_headers("VN-ECOSYS"), "Content-Type": "application/json"}
    resp = target.post("/rest/v1/documents", m.rest_body(), headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"
    assert counts(target.bridge)["messages"] == before["messages"] + 1
    assert target.bridge.store.verify_audit() == []
    health = requests.get(target.topology.bridge_url + "/healthz", timeout=5)
    assert health.json() == {"status": "ok"}
