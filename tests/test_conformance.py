"""The partner conformance kit and the contract drift watch, against the real simulated partners.

The simulated partner systems verify the bridge's signature and de-duplicate on the message
id, so a well-behaved one passes every check; a test breaks one behaviour on purpose
(signature verification, de-duplication, its WSDL) to show the kit notices exactly that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flows import PILOT_11
from lxml import etree

from ak_bridge.adapters.outbound.rest import RestSender
from ak_bridge.cli import cli
from ak_bridge.core.errors import SignatureInvalid
from ak_bridge.core.model import CancellationNotice, Receipt
from ak_bridge.core.settings import PartnerConfig
from ak_bridge.formats import build_codecs
from ak_bridge.formats.lifecycle import MESSAGES_NS_11
from ak_bridge.onboarding.conformance import ConformanceKit
from ak_bridge.onboarding.contract_drift import Difference, compare_wsdl, wsdl_url
from ak_bridge.security.signing import Signer, Verifier, load_identity, load_trusted
from ak_bridge.security.xmlio import NS_DSIG, WSDL_DIR, parse_untrusted
from ak_bridge.service.delivery import Outbound, Sent
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.partners import PartnerSystem
from ak_bridge.sim.server import LiveServer
from ak_bridge.sim.topology import Topology, build_topology

AMS_WSDL = (WSDL_DIR / "ams/akbridge-ams-1.0.wsdl").read_bytes()


@pytest.fixture
def topo(tmp_path: Path) -> Iterator[Topology]:
    topo = build_topology(tmp_path / "x", uat=True)  # each simulator's /uat/… is its UAT
    yield topo
    topo.stop()


def run(topo: Topology, *args: str) -> Result:
    config = topo.settings.root / "config"
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def conformance(topo: Topology, partner: str, *extra: str) -> tuple[Result, dict[str, Any]]:
    result = run(topo, "conformance", partner, "--json", "--latency-sends", "3", *extra)
    return result, json.loads(result.stdout)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["check"]: r["status"] for r in report["results"]}


# --------------------------------------------------------------------------- conformance


def test_well_behaved_soap_partner_passes_and_the_report_is_signed(
    topo: Topology, tmp_path: Path
) -> None:
    out = tmp_path / "onboarding-ID-SKA.json"
    result, report = conformance(topo, "ID-SKA", "--out", str(out))

    assert result.exit_code == 0, result.output
    assert statuses(report) == dict.fromkeys(
        ("wsdl", "accept", "duplicate", "tampered", "lifecycle", "latency"), "PASS"
    )
    assert report["summary"] == {"pass": 6, "fail": 0, "skip": 0, "conformant": True}
    by_check = {r["check"]: r for r in report["results"]}
    assert by_check["tampered"]["data"]["code"] == "signature_invalid"
    assert by_check["latency"]["data"]["sends"] == 3
    assert all(r["seconds"] >= 0 and r["reason"] for r in report["results"])

    # What the partner saw: 1 + 3 certificates and a cancellation, once each; one resend.
    sim = topo.systems["ID-SKA"]
    refs = [r.certificate.reference_no for r in sim.received if r.certificate is not None]
    assert len(refs) == 5 and all(
        re.fullmatch(report["reference_prefix"] + r"-\d+", ref) for ref in refs
    )
    assert report["reference_prefix"].startswith("CONF-")
    assert sim.duplicates == 1
    assert any("signature" in e for e in sim.errors)

    # The written report and its signature: the bridge's key, over exactly this JSON.
    written = json.loads(out.read_text())
    assert written == report
    signature = out.with_name(out.name + ".sig.xml").read_bytes()
    verifier = Verifier(load_trusted([topo.settings.identity_cert]))
    verifier.verify_json(written, signature)
    with pytest.raises(SignatureInvalid):
        verifier.verify_json({**written, "partner": "XX-OTHER"}, signature)


def test_kcs_is_tested_with_a_certificate_issued_elsewhere(topo: Topology) -> None:
    result, report = conformance(topo, "KR-KCS", "--latency-sends", "1")

    assert result.exit_code == 0, result.output
    assert set(statuses(report).values()) == {"PASS"}
    (first, *_) = topo.systems["KR-KCS"].received
    assert first.certificate is not None and first.certificate.issuing_country == "ID"


def test_well_behaved_rest_partner_passes(topo: Topology) -> None:
    result, report = conformance(topo, "VN-ECOSYS")

    assert result.exit_code == 0, result.output
    assert statuses(report) == {
        "wsdl": "SKIP",
        "accept": "PASS",
        "duplicate": "PASS",
        "tampered": "PASS",
        "lifecycle": "PASS",
        "latency": "PASS",
    }
    assert topo.systems["VN-ECOSYS"].duplicates == 1


def test_the_lifecycle_check_speaks_the_partners_highest_version(tmp_path: Path) -> None:
    """The cancellation goes as the bridge would send it: 1.1 to a partner speaking 1.1."""
    topo = build_topology(tmp_path / "v11", PILOT_11, uat=True)
    try:
        result, report = conformance(topo, "VN-ECOSYS")
        assert statuses(report)["lifecycle"] == "PASS", result.output
        received = topo.systems["VN-ECOSYS"].received
        [cancel] = [r for r in received if isinstance(r.certificate, CancellationNotice)]
        assert etree.QName(etree.fromstring(cancel.raw)).namespace == MESSAGES_NS_11
    finally:
        topo.stop()


def test_human_output_lists_every_check(topo: Topology) -> None:
    result = run(topo, "conformance", "ID-SKA", "--latency-sends", "1")
    assert result.exit_code == 0, result.output
    for check in ("wsdl", "accept", "duplicate", "tampered", "lifecycle", "latency"):
        assert re.search(rf"^PASS\s+{check}\s", result.output, re.M), result.output


class PermissiveVerifier:
    """A partner that reads the bridge's documents without checking the signature."""

    def verify(self, data: bytes) -> etree._Element:
        root = parse_untrusted(data)
        for sig in root.findall(f"{{{NS_DSIG}}}Signature"):
            root.remove(sig)
        return root

    def verify_json(self, payload: object, signature: bytes) -> None:
        return None


@pytest.mark.parametrize("partner", ["ID-SKA", "VN-ECOSYS"])
def test_partner_that_does_not_verify_signatures_fails_tampered(
    topo: Topology, partner: str
) -> None:
    topo.systems[partner].bridge_verifier = PermissiveVerifier()  # type: ignore[assignment]

    result, report = conformance(topo, partner)

    assert result.exit_code == 1
    assert statuses(report)["tampered"] == "FAIL"
    assert "accepted a document whose signature does not match" in _reason(report, "tampered")
    assert [c for c, s in statuses(report).items() if s == "FAIL"] == ["tampered"]
    assert report["summary"]["conformant"] is False


def _always_accept(system: PartnerSystem) -> Callable[..., Receipt]:
    def record(env: Any, co: Any, raw: bytes) -> Receipt:
        return Receipt(env.message_id, "accepted", datetime.now(UTC), co.reference_no)

    return record


@pytest.mark.parametrize("partner", ["ID-SKA", "VN-ECOSYS"])
def test_partner_that_does_not_deduplicate_fails_idempotency(
    topo: Topology, partner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = topo.systems[partner]
    monkeypatch.setattr(system, "_record", _always_accept(system))

    result, report = conformance(topo, partner)

    assert result.exit_code == 1
    assert [c for c, s in statuses(report).items() if s == "FAIL"] == ["duplicate"]
    assert "accepted twice" in _reason(report, "duplicate")


def test_partner_that_is_down_fails_and_says_why(topo: Topology) -> None:
    topo.systems["ID-SKA"].stop()

    result, report = conformance(topo, "ID-SKA")

    assert result.exit_code == 1
    assert statuses(report) == {
        "wsdl": "SKIP",
        "accept": "FAIL",
        "duplicate": "SKIP",
        "tampered": "FAIL",
        "lifecycle": "SKIP",
        "latency": "FAIL",
    }
    assert _reason(report, "accept").startswith(
        "valid certificate not accepted: failed (transport)"
    )


def test_unknown_partner_is_refused(topo: Topology) -> None:
    result = run(topo, "conformance", "XX-NONE")
    assert result.exit_code == 1 and "no partner 'XX-NONE'" in result.output


class NoReceipt:
    """A sender that delivers but cannot say what the partner's receipt said."""

    def __init__(self, inner: RestSender) -> None:
        self._inner = inner

    def send(self, partner: PartnerConfig, message: Outbound) -> Sent:
        return Sent(self._inner.send(partner, message).http_status)


def test_unreadable_receipts_skip_the_idempotency_check(topo: Topology) -> None:
    settings = topo.settings
    partner = settings.partners["VN-ECOSYS"]
    identity = load_identity(settings.identity_key, settings.identity_cert, None)
    kit = ConformanceKit(
        settings,
        partner,
        NoReceipt(RestSender()),
        Signer(identity),
        build_codecs(settings.format_mappings)[partner.format],
        sample_form_ak,
        latency_sends=1,
    )
    report = kit.report(kit.run())

    assert statuses(report)["duplicate"] == "SKIP"
    assert "not readable" in _reason(report, "duplicate")
    assert report["summary"]["fail"] == 0


def _reason(report: dict[str, Any], check: str) -> str:
    return next(r["reason"] for r in report["results"] if r["check"] == check)


# --------------------------------------------------------------------------- drift watch


def _rewrite_wsdl(app: Any, rewrite: Callable[[bytes], bytes]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware: the partner's ``?wsdl`` answer, edited by ``rewrite``."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("QUERY_STRING") != "wsdl":
            return app(environ, start_response)
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            seen.update(status=status, headers=headers)

        body = rewrite(b"".join(app(environ, capture)))
        headers = [(k, v) for k, v in seen["headers"] if k.lower() != "content-length"]
        start_response(seen["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return wrapped


def _serve_rewritten(system: PartnerSystem, rewrite: Callable[[bytes], bytes]) -> None:
    assert system.server is not None
    port = system.server.port
    system.stop()
    system.server = LiveServer(_rewrite_wsdl(system.app(), rewrite), port=port)
    system.start()


def test_contracts_check_says_same_for_the_simulated_partners(topo: Topology) -> None:
    result = run(topo, "contracts", "check")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert {line.split()[0]: line.split()[1] for line in lines} == {
        "KR-KCS": "same",
        "ID-SKA": "same",
    }  # VN-ECOSYS speaks REST: no WSDL to watch


def test_contracts_check_reports_drift_and_unreachable(topo: Topology) -> None:
    drop_sent_at = re.compile(rb'\s*<xs:element name="SentAt"[^>]*/>')
    _serve_rewritten(topo.systems["ID-SKA"], lambda body: drop_sent_at.sub(b"", body))
    topo.systems["KR-KCS"].stop()

    result = run(topo, "contracts", "check", "--json")

    assert result.exit_code == 1
    by_partner = {s["partner"]: s for s in json.loads(result.stdout)}
    assert by_partner["ID-SKA"]["state"] == "drifted"
    assert by_partner["ID-SKA"]["differences"] == [
        {"kind": "element", "change": "removed", "name": "MessageHeader/SentAt", "detail": ""}
    ]
    assert by_partner["KR-KCS"]["state"] == "unreachable"
    assert "contract drifted: ID-SKA; unreachable: KR-KCS" in result.stderr

    human = run(topo, "contracts", "check", "--partner", "ID-SKA")
    assert "element removed: MessageHeader/SentAt" in human.output

    # The conformance suite's WSDL check sees the same drift.
    _, report = conformance(topo, "ID-SKA", "--latency-sends", "1")
    assert statuses(report)["wsdl"] == "FAIL"
    assert "MessageHeader/SentAt" in _reason(report, "wsdl")


def test_contracts_check_refuses_an_unknown_partner(topo: Topology) -> None:
    result = run(topo, "contracts", "check", "--partner", "VN-ECOSYS")
    assert result.exit_code == 1 and "not a configured SOAP partner: VN-ECOSYS" in result.output


# --------------------------------------------------------------------------- pure comparison


def test_same_wsdl_has_no_differences_whatever_the_address() -> None:
    moved = AMS_WSDL.replace(b"http://localhost:8080/soap/ams", b"https://uat.example/ws")
    assert compare_wsdl(AMS_WSDL, moved) == []


def test_operations_elements_types_and_namespace_are_compared() -> None:
    theirs = (
        AMS_WSDL.replace(b'<wsdl:operation name="QueryStatus">', b'<wsdl:operation name="Query">')
        .replace(b'name="CorrelationId" type="xs:string"', b'name="TraceId" type="xs:string"')
        .replace(b'name="SentAt" type="xs:dateTime"', b'name="SentAt" type="xs:string"')
    )
    diffs = [str(d) for d in compare_wsdl(AMS_WSDL, theirs)]
    assert diffs == [
        "operation removed: QueryStatus",
        "operation added: Query",
        "element removed: MessageHeader/CorrelationId",
        "element added: MessageHeader/TraceId",
        "element changed: MessageHeader/SentAt (dateTime, 1..1 -> string, 1..1)",
    ]


def test_hostile_or_foreign_answers_are_drift_never_parsed_unsafely() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    html = b"<html><body>It works!</body></html>"
    for theirs in (bomb, html, b"not xml at all"):
        (diff,) = compare_wsdl(AMS_WSDL, theirs)
        assert (diff.kind, diff.change) == ("document", "unreadable")


def test_an_imported_schema_is_reported_not_fetched() -> None:
    theirs = AMS_WSDL.replace(
        b"<wsdl:types>",
        b'<wsdl:types><xs:schema><xs:import namespace="urn:x" '
        b'schemaLocation="http://evil.example/x.xsd"/></xs:schema>',
    )
    assert Difference(
        "import",
        "added",
        "http://evil.example/x.xsd",
        "not fetched: external schemas are never read",
    ) in compare_wsdl(AMS_WSDL, theirs)


def test_wsdl_url() -> None:
    assert wsdl_url("http://h:1/soap") == "http://h:1/soap?wsdl"
    assert wsdl_url("http://h:1/soap?v=2") == "http://h:1/soap?v=2&wsdl"


def test_another_contract_altogether_is_drift_in_namespace_and_operations() -> None:
    kcs = (WSDL_DIR / "kcs/unipass-eco-1.0.wsdl").read_bytes()
    diffs = compare_wsdl(AMS_WSDL, kcs)
    assert (
        str(diffs[0])
        == "namespace changed: urn:kcs:unipass:eco:1.0 (ours is urn:ak-bridge:ams:1.0)"
    )
    assert "operation removed: SubmitDocument" in map(str, diffs)
    assert "operation added: TransmitCoDoc" in map(str, diffs)


# --------------------------------------------------------------------------- UAT (issue 10)


def test_conformance_runs_against_the_uat_endpoint(topo: Topology) -> None:
    result, report = conformance(topo, "ID-SKA", "--latency-sends", "1")
    assert result.exit_code == 0, result.stderr
    assert report["endpoint"] == topo.settings.partners["ID-SKA"].uat_endpoint
    assert report["endpoint"].endswith("/uat/soap")


def _rewrite_partner(topo: Topology, pid: str, change: Callable[[str], str]) -> None:
    path = topo.settings.root / "config" / "partners.toml"
    head, sep, rest = path.read_text().partition(f"[partners.{pid}]")
    table, nxt, tail = rest.partition("\n[")
    path.write_text(head + sep + change(table) + nxt + tail)


def test_conformance_refuses_production_without_the_flag(topo: Topology) -> None:
    endpoint = topo.settings.partners["ID-SKA"].endpoint
    _rewrite_partner(
        topo, "ID-SKA", lambda t: "\n".join(x for x in t.split("\n") if "uat_endpoint" not in x)
    )
    refused = run(topo, "conformance", "ID-SKA")
    assert refused.exit_code == 1
    assert "has no uat_endpoint" in refused.stderr and "--production" in refused.stderr
    assert topo.systems["ID-SKA"].hits == 0  # nothing was sent

    _, report = conformance(topo, "ID-SKA", "--latency-sends", "1", "--production")
    assert report["endpoint"] == endpoint and topo.systems["ID-SKA"].hits > 0


def test_a_uat_endpoint_that_is_the_production_one_is_refused(topo: Topology) -> None:
    endpoint = topo.settings.partners["VN-ECOSYS"].endpoint
    _rewrite_partner(
        topo,
        "VN-ECOSYS",
        lambda t: re.sub(r'uat_endpoint = "[^"]*"', f'uat_endpoint = "{endpoint}/"', t),
    )
    refused = run(topo, "conformance", "VN-ECOSYS")
    assert refused.exit_code == 1 and "is its production endpoint" in refused.stderr
    assert topo.systems["VN-ECOSYS"].hits == 0


def test_contracts_check_exits_1_when_a_partner_is_unreachable(topo: Topology) -> None:
    topo.systems["KR-KCS"].stop()
    result = run(topo, "contracts", "check")
    assert result.exit_code == 1
    assert "unreachable: KR-KCS" in result.stderr and "drifted" not in result.stderr
