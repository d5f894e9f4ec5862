"""``ak-bridge sandbox --as PARTNER``: a bridge an integrator can submit to, on loopback.

Why: an integrator needs something to test against before any UAT exists, with the
credentials in hand (the demo keeps only token hashes). The sandbox is the demo's topology
(simulated KCS, Indonesia and Viet Nam on loopback) with the chosen partner's own server
left down, so the integrator's receiver may take its port; it prints the endpoint, the
partner's token, key and certificate, and writes ready-made signed requests, SOAP and REST,
for every message type that partner may send, numbered in the order to send them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from ak_bridge.sim.sample_requests import (
    SAMPLE_DAY,
    identity_files,
    inbound_certificates,
    request_files,
)
from ak_bridge.sim.topology import PILOT, Topology, build_topology

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


def _identities() -> dict[str, tuple[Path, Path]]:
    """The committed TEST-ONLY identities, where the sources are at hand (a checkout)."""
    found = {pid: identity_files(pid) for pid in PARTNERS}
    return {pid: files for pid, files in found.items() if all(f.exists() for f in files)}


def start(workdir: Path, partner: str) -> Sandbox:
    """Build and start the sandbox; the chosen partner's own receiver is left down.

    Partners sign with the committed TEST-ONLY keys and every date is the sample day, so the
    requests written here are the committed ``wsdl/samples/requests/<partner>/`` files.
    """
    identities = _identities()
    topo = build_topology(
        workdir,
        identities=identities,
        partner_lines={pid: "sign_receipts = true\n" for pid in PARTNERS},
    )
    topo.start_bridge()
    worker = topo.worker_exchange()
    system = topo.systems[partner]
    # the certificates addressed to the partner, for the messages an importing side sends
    sender = topo.systems["KR-KCS" if system.country != "KR" else "VN-ECOSYS"]
    for n, inbound in enumerate(inbound_certificates(system.country, SAMPLE_DAY), start=1):
        sender.submit(topo.bridge_url, inbound, f"{sender.partner_id}-SANDBOX-IN-{n}")
    for _ in range(20):  # delivered to the partner's simulator, so its state allows answers
        if not worker.deliver_due().attempted:
            break
    system.stop()  # its port is now the integrator's, for its own receiver
    requests_dir = workdir / "requests"
    requests_dir.mkdir(exist_ok=True)
    for name, data in request_files(system).items():
        (requests_dir / name).write_bytes(data)
    pki = workdir / "pki"
    key_file, cert_file = identities.get(
        partner, (pki / f"{partner}.test-key.pem", pki / f"{partner}.test-cert.pem")
    )
    return Sandbox(
        topo, partner, requests_dir, key_file, cert_file, topo.settings.partners[partner].endpoint
    )


def deliver_forever(sandbox: Sandbox, stop: threading.Event, every: float = 1.0) -> None:
    """The worker's loop: what the integrator submits reaches the simulated partners."""
    worker = sandbox.topology.worker_exchange("sandbox-worker")
    while not stop.wait(every):
        worker.deliver_due()
