"""Signature policy on a running bridge: rollover, expiry, and keys that are not yours.

tests/test_signing.py checks the Verifier alone. These tests change what an operator
changes — the ``certificates`` of a partner in partners.toml — reload the settings as the
service would at start-up, and then send real documents through the bridge, so a rollover
is proven end to end (received, translated, re-signed, delivered), not just verified.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bridge_client import Answer, rest_json, rest_submit, soap_submit

from ak_bridge.config import load_settings
from ak_bridge.security.signing import Signer, load_identity
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.pki import PkiEntry, make_test_pki
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS, KCS

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def pin(topology: Topology, partner_id: str, cert_files: list[Path]) -> None:
    """Replace a partner's pinned certificates in partners.toml and reload the settings."""
    config = topology.settings.root / "config"
    path = config / "partners.toml"
    text = path.read_text()
    table = re.search(rf"\[partners\.{re.escape(partner_id)}\]\n(.*?)(?=\n\[|\Z)", text, re.S)
    assert table is not None
    listed = ", ".join(f'"{f}"' for f in cert_files)
    block = re.sub(r"certificates = \[.*?\]", f"certificates = [{listed}]", table.group(0))
    path.write_text(text.replace(table.group(0), block))
    topology.settings = load_settings(config, environ={})


def signer(entry: PkiEntry) -> Signer:
    return Signer(load_identity(entry.key_file, entry.cert_file, None))


def submit_from_indonesia(topology: Topology, with_key: Signer, ref: str) -> Answer:
    """Indonesia's document for Korea, signed with ``with_key``, over the AMS contract."""
    ind = topology.systems["ID-SKA"]
    co = sample_form_ak(ref, "ID", "KR", TODAY)
    document = with_key.sign(ind.codec.encode(co))
    return soap_submit(
        topology.bridge_url, AMS, ind.auth_headers(), ind.envelope_for(co, f"ID-{ref}"), document
    )


def stored(bridge: Exchange) -> tuple[int, int]:
    db = bridge.store.db
    return (
        db.execute("SELECT count(*) FROM messages").fetchone()[0],
        db.execute("SELECT count(*) FROM deliveries").fetchone()[0],
    )


def sweep(worker: Exchange) -> None:
    for _ in range(10):
        if not worker.deliver_due().attempted:
            return


@pytest.mark.parametrize("layout", ["two files", "one bundle file"])
def test_rollover_documents_signed_with_either_pinned_certificate_arrive(
    topology: Topology, layout: str
) -> None:
    pki_dir = topology.workdir / "pki"
    old = PkiEntry(
        "ID-SKA", pki_dir / "ID-SKA.test-key.pem", pki_dir / "ID-SKA.test-cert.pem", "rsa"
    )
    new = make_test_pki(pki_dir, ["ID-SKA-2027"], key_types={"ID-SKA-2027": "ec"})["ID-SKA-2027"]
    if layout == "two files":
        pin(topology, "ID-SKA", [old.cert_file, new.cert_file])
    else:
        bundle = pki_dir / "ID-SKA.rollover.test-cert.pem"
        bundle.write_bytes(old.cert_file.read_bytes() + new.cert_file.read_bytes())
        pin(topology, "ID-SKA", [bundle])
    bridge = topology.start_bridge()
    worker = topology.worker_exchange()

    a = submit_from_indonesia(topology, signer(old), "0101/SKA-AK/JKT/2026")
    b = submit_from_indonesia(topology, signer(new), "0102/SKA-AK/JKT/2026")
    assert (a.code, a.outcome) == (None, "accepted"), a.content[:300]
    assert (b.code, b.outcome) == (None, "accepted"), b.content[:300]
    sweep(worker)
    kcs = topology.systems["KR-KCS"]
    assert sorted(r.certificate.reference_no for r in kcs.received) == [
        "0101/SKA-AK/JKT/2026",
        "0102/SKA-AK/JKT/2026",
    ]
    assert stored(bridge) == (2, 2)


def test_expired_and_not_yet_valid_pins_are_refused_while_the_current_one_works(
    topology: Topology,
) -> None:
    pki_dir = topology.workdir / "pki"
    made = make_test_pki(
        pki_dir,
        ["ID-SKA-2025", "ID-SKA-2028"],
        validity={
            "ID-SKA-2025": (NOW - timedelta(days=400), NOW - timedelta(days=1)),
            "ID-SKA-2028": (NOW + timedelta(days=30), NOW + timedelta(days=400)),
        },
    )
    current = PkiEntry(
        "ID-SKA", pki_dir / "ID-SKA.test-key.pem", pki_dir / "ID-SKA.test-cert.pem", "rsa"
    )
    pin(
        topology,
        "ID-SKA",
        [made["ID-SKA-2025"].cert_file, current.cert_file, made["ID-SKA-2028"].cert_file],
    )
    bridge = topology.start_bridge()

    expired = submit_from_indonesia(topology, signer(made["ID-SKA-2025"]), "0201/SKA-AK/JKT/2026")
    assert expired.code == "signature_invalid"
    assert b"expired" in expired.content
    future = submit_from_indonesia(topology, signer(made["ID-SKA-2028"]), "0202/SKA-AK/JKT/2026")
    assert future.code == "signature_invalid"
    assert b"not valid before" in future.content
    assert stored(bridge) == (0, 0)
    rows = bridge.store.audit_events("rejected")
    assert [r["code"] for r in rows] == ["signature_invalid", "signature_invalid"]

    ok = submit_from_indonesia(topology, signer(current), "0203/SKA-AK/JKT/2026")
    assert ok.outcome == "accepted", ok.content[:300]
    assert stored(bridge) == (1, 1)


def test_only_an_expired_pin_refuses_everything_from_that_partner(topology: Topology) -> None:
    pki_dir = topology.workdir / "pki"
    expired = make_test_pki(
        pki_dir,
        ["ID-SKA-old"],
        validity={"ID-SKA-old": (NOW - timedelta(days=400), NOW - timedelta(seconds=5))},
    )["ID-SKA-old"]
    pin(topology, "ID-SKA", [expired.cert_file])
    bridge = topology.start_bridge()
    answer = submit_from_indonesia(topology, signer(expired), "0301/SKA-AK/JKT/2026")
    assert answer.code == "signature_invalid" and b"expired" in answer.content
    assert stored(bridge) == (0, 0)


def test_a_document_signed_with_another_partners_key_is_refused_on_every_channel(
    topology: Topology, bridge: Exchange
) -> None:
    systems = topology.systems
    kcs, ind, vn = systems["KR-KCS"], systems["ID-SKA"], systems["VN-ECOSYS"]

    # Korea's document in UNI-PASS format, signed with Viet Nam's key, sent by Korea.
    co = sample_form_ak("KR-2026-AK-000501", "KR", "ID", TODAY)
    forged = vn.signer.sign(kcs.codec.encode(co))
    a = soap_submit(topology.bridge_url, KCS, kcs.auth_headers(), kcs.envelope_for(co, "K"), forged)
    # Viet Nam's JSON, its manifest signed with Indonesia's key, sent by Viet Nam.
    co = sample_form_ak("VN-KR 26/01/00501", "VN", "KR", TODAY)
    _, document, _ = vn.document_for(co)
    assert document is not None
    body = rest_json(vn.envelope_for(co, "V"), document, ind.signer.sign_json(document))
    b = rest_submit(topology.bridge_url, vn.auth_headers(), body)
    # Indonesia's document signed with Korea's key, sent by Indonesia.
    c = submit_from_indonesia(topology, kcs.signer, "0501/SKA-AK/JKT/2026")

    for answer in (a, b, c):
        assert answer.code == "signature_invalid", answer.content[:300]
        assert b"not pinned" in answer.content
    assert stored(bridge) == (0, 0)
