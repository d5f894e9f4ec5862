"""``ak-bridge sandbox --as PARTNER``: a bridge an integrator can submit to, on loopback.

Why: an integrator needs something to test against before any UAT exists, with the
credentials in hand (the demo keeps only token hashes). The sandbox is the demo's topology
(simulated KCS, Indonesia and Viet Nam on loopback) with the chosen partner's own server
left down, so the integrator's receiver may take its port; it prints the endpoint, the
partner's token, key and certificate, and writes ready-made signed requests, SOAP and REST,
for every message type that partner may send, numbered in the order to send them.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from ak_bridge.adapters.web import soap
from ak_bridge.core.model import (
    CancellationNotice,
    CustomsResponse,
    FormAK,
    ItemDecision,
    PreferenceDecision,
    RetransmissionRequest,
    VerificationRequest,
)
from ak_bridge.core.rules import default_reply_due
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.partners import PartnerSystem
from ak_bridge.sim.topology import PILOT, Topology, build_topology
from ak_bridge.standard.contracts import AMS, KCS, rest_body

PARTNERS = tuple(s.partner_id for s in PILOT)


@dataclass(frozen=True)
class Sandbox:
    topology: Topology
    partner: str
    requests_dir: Path
    key_file: Path
    cert_file: Path
    receive_at: str  # where the bridge delivers to this partner

    def banner(self) -> list[str]:
        system = self.topology.systems[self.partner]
        return [
            f"endpoint: {self.topology.bridge_url}",
            f"partner: {self.partner}",
            f"token: {system.token}",
            f"key: {self.key_file}",
            f"certificate: {self.cert_file}",
            f"bridge certificate: {self.topology.settings.identity_cert}",
            f"deliveries to you go to: {self.receive_at}",
            f"requests: {self.requests_dir}",
        ]


def _counterpart(country: str) -> str:
    return "VN" if country == "KR" else "KR"


def _messages(country: str, today: date, inbound: FormAK) -> list[tuple[str, object]]:
    """What a partner of ``country`` may send, in an order the bridge accepts."""
    other = _counterpart(country)
    own = sample_form_ak(f"{country}-SANDBOX-1", country, other, today)
    ref = inbound.reference_no
    decisions = tuple(ItemDecision(i.item_no, PreferenceDecision.GIVEN) for i in inbound.items)
    out: list[tuple[str, object]] = [
        ("certificate", own),
        (
            "cancellation-notice",
            CancellationNotice(own.reference_no, country, other, "withdrawn", today),
        ),
        ("retransmission-request", RetransmissionRequest(ref, other, country, "data lost", today)),
        (
            "customs-response",
            CustomsResponse(ref, other, country, f"{country}-IMP-1", today, decisions),
        ),
    ]
    due = default_reply_due(today)
    second = f"{other}-SANDBOX-2"
    out.append(
        (
            "verification-request",
            VerificationRequest(second, other, country, "VR-1", "RVC", today, due),
        )
    )
    return out


def _write(system: PartnerSystem, directory: Path, n: int, name: str, doc: object) -> None:
    xml, json_doc, signature = system.document_for(doc)  # type: ignore[arg-type]
    envelope = system.envelope_for(doc, f"{system.partner_id}-SANDBOX-{n:02d}")  # type: ignore[arg-type]
    stem = f"{n:02d}-{name}"
    body = rest_body(envelope, json_doc, signature, None if json_doc is not None else xml)
    (directory / f"{stem}.rest.json").write_text(
        json.dumps(body, indent=2, ensure_ascii=False) + "\n", "utf-8"
    )
    if xml is not None:
        contract = KCS if system.country == "KR" else AMS
        (directory / f"{stem}.{contract.name}.soap.xml").write_bytes(
            soap.submit_request(contract, envelope, xml)
        )


def start(workdir: Path, partner: str) -> Sandbox:
    """Build and start the sandbox; the chosen partner's own receiver is left down."""
    topo = build_topology(workdir)
    topo.start_bridge()
    worker = topo.worker_exchange()
    system = topo.systems[partner]
    today = datetime.now(UTC).date()
    # a certificate addressed to the partner, for the messages an importing side sends
    sender = topo.systems["KR-KCS" if system.country != "KR" else "VN-ECOSYS"]
    inbound = sample_form_ak(f"{sender.country}-SANDBOX-1", sender.country, system.country, today)
    sender.submit(topo.bridge_url, inbound, f"{sender.partner_id}-SANDBOX-IN-1")
    second = sample_form_ak(f"{sender.country}-SANDBOX-2", sender.country, system.country, today)
    sender.submit(topo.bridge_url, second, f"{sender.partner_id}-SANDBOX-IN-2")
    for _ in range(20):  # delivered to the partner's simulator, so its state allows answers
        if not worker.deliver_due().attempted:
            break
    system.stop()  # its port is now the integrator's, for its own receiver
    requests_dir = workdir / "requests"
    requests_dir.mkdir(exist_ok=True)
    for n, (name, doc) in enumerate(_messages(system.country, today, inbound), start=1):
        _write(system, requests_dir, n, name, doc)
    pki = workdir / "pki"
    return Sandbox(
        topo,
        partner,
        requests_dir,
        next(pki.glob(f"{partner}*key.pem")),
        next(pki.glob(f"{partner}*cert.pem")),
        topo.settings.partners[partner].endpoint,
    )


def deliver_forever(sandbox: Sandbox, stop: threading.Event, every: float = 1.0) -> None:
    """The worker's loop: what the integrator submits reaches the simulated partners."""
    worker = sandbox.topology.worker_exchange("sandbox-worker")
    while not stop.wait(every):
        worker.deliver_due()
