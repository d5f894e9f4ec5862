"""Issue 10 part 5: signed sample requests are committed, reproducible and accepted.

``wsdl/samples/requests/<partner>/`` holds SOAP and REST requests for every message each
sample partner may send. A running ``ak-bridge sandbox --as <partner>`` (its own process)
writes exactly these bytes, and accepts each committed file, sent in its numbered order.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from cryptography import x509
from test_sandbox import _start, send_in_order

from ak_bridge.config import load_format_mappings
from ak_bridge.formats import build_codecs
from ak_bridge.sim.sample_requests import REQUESTS_DIR, committed_files, identity_files
from ak_bridge.sim.topology import PILOT

ROOT = Path(__file__).parents[1]


def test_the_committed_requests_are_what_make_samples_regenerates() -> None:
    built = committed_files(build_codecs(load_format_mappings(ROOT / "config")))
    committed = {
        p.relative_to(REQUESTS_DIR).as_posix(): p.read_bytes()
        for p in REQUESTS_DIR.glob("*/*")
        if p.is_file()
    }
    assert sorted(built) == sorted(committed)
    for name, data in built.items():
        assert committed[name] == data, f"{name} drifted: run scripts/make-samples"
    # every message type a partner may send, over REST; over SOAP when the document is XML
    for spec in PILOT:
        rest = [n for n in built if n.startswith(spec.partner_id) and n.endswith(".rest.json")]
        soap = [n for n in built if n.startswith(spec.partner_id) and n.endswith(".soap.xml")]
        assert len(rest) == 5 and len(soap) == (4 if spec.partner_id == "VN-ECOSYS" else 5)


def test_the_test_only_keys_say_so_and_are_documented() -> None:
    readme = (REQUESTS_DIR / "README.md").read_text()
    assert "PUBLIC test keys" in readme and "sandbox only" in readme
    for spec in PILOT:
        key, cert = identity_files(spec.partner_id)
        assert key.name == f"TEST-ONLY-sandbox-{spec.partner_id}.key.pem" and key.exists()
        subject = x509.load_pem_x509_certificate(cert.read_bytes()).subject.rfc4514_string()
        assert "TEST-ONLY" in subject and "never trust" in subject


@pytest.mark.parametrize("partner", [s.partner_id for s in PILOT])
def test_a_running_sandbox_writes_and_accepts_the_committed_requests(
    tmp_path: Path, partner: str
) -> None:
    proc, info = _start(tmp_path, partner)
    try:
        written = {p.name: p.read_bytes() for p in Path(info["requests"]).iterdir()}
        mine = sorted((REQUESTS_DIR / partner).iterdir())
        assert written == {p.name: p.read_bytes() for p in mine}
        assert Path(info["key"]) == identity_files(partner)[0]
        rest = [p for p in mine if p.name.endswith(".rest.json")]
        soap = [p for p in mine if p.name.endswith(".soap.xml")]
        first, again = (rest, soap) if partner == "VN-ECOSYS" else (soap, rest)
        answers = send_in_order(info, partner, first, again)
        signed = [
            r.json()["signedReceipt"]
            for r in answers
            if r.headers["Content-Type"].startswith("application/json")
        ]
        assert len(signed) == 5  # the sandbox signs its receipts
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
