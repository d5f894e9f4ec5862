"""Secrets stay secret: a whole exchange, logged at DEBUG, leaves no token, passphrase or key.

The bridge's key is encrypted and its passphrase comes from the environment, as in
production (``key_passphrase_env``). A full exchange runs — SOAP in with zeep and raw HTTP,
REST in, deliveries out, status queries, and refusals of every kind (no token, wrong token,
impersonation, tampering, hostile XML, a partner's fault) — with every logger at DEBUG.
Then the log text, every answer, everything the bridge sent to partners, the audit table
and the raw bytes of the SQLite files (WAL included) are searched for each secret.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from bridge_client import Answer, rest_json, rest_status, rest_submit, soap_query, soap_submit
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from ak_bridge.bootstrap import build_exchange
from ak_bridge.config import load_settings
from ak_bridge.core.errors import ConfigError
from ak_bridge.security.signing import Verifier, load_trusted
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.pki import make_test_pki
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import AMS, KCS

TODAY = datetime.now(UTC).date()
PASSPHRASE_ENV = "AK_BRIDGE_KEY_PASSPHRASE"


@dataclass
class Guarded:
    topology: Topology
    passphrase: str
    bridge: Exchange | None = None
    answers: list[bytes] = field(default_factory=list)

    def keep(self, answer: Answer | requests.Response) -> None:
        if isinstance(answer, requests.Response):
            self.answers.append(answer.content + str(answer.headers).encode())
        else:
            self.answers.append(answer.content)


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Guarded]:
    """The pilot topology, with the bridge's identity replaced by a passphrase-protected one."""
    topology = build_topology(tmp_path / "exchange")
    passphrase = "pp-" + secrets.token_urlsafe(18)
    pki = make_test_pki(tmp_path / "guarded-pki", ["bridge"], passphrase=passphrase.encode())
    config = topology.settings.root / "config"
    main = (config / "ak_bridge.toml").read_text()
    main = main.replace(str(topology.settings.identity_key), str(pki["bridge"].key_file))
    main = main.replace(str(topology.settings.identity_cert), str(pki["bridge"].cert_file))
    main = main.replace("[identity]\n", f'[identity]\nkey_passphrase_env = "{PASSPHRASE_ENV}"\n')
    (config / "ak_bridge.toml").write_text(main)
    monkeypatch.setenv(PASSPHRASE_ENV, passphrase)
    topology.settings = load_settings(config)
    bridge_verifier = Verifier(load_trusted([pki["bridge"].cert_file]))
    for system in topology.systems.values():  # partners pin the bridge's new certificate
        system.bridge_verifier = bridge_verifier
    yield Guarded(topology, passphrase)
    topology.stop()


def secrets_of(g: Guarded) -> dict[str, bytes]:
    """Every secret, and every 64-character line of every private key, by name."""
    topo = g.topology
    out = {"admin token": topo.admin_token.encode(), "passphrase": g.passphrase.encode()}
    for pid, system in topo.systems.items():
        out[f"{pid} token"] = (system.token or "").encode()
    keys = [topo.settings.identity_key, *(topo.workdir / "pki").glob("*.test-key.pem")]
    for key_file in keys:
        pem = key_file.read_bytes()
        password = g.passphrase.encode() if key_file == topo.settings.identity_key else None
        key = load_pem_private_key(pem, password=password)
        clear = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        out[f"{key_file.name} DER"] = key.private_bytes(
            Encoding.DER, PrivateFormat.PKCS8, NoEncryption()
        )
        for n, line in enumerate([*pem.splitlines(), *clear.splitlines()]):
            if not line.startswith(b"-----"):
                out[f"{key_file.name} line {n}"] = line
    out["PEM marker"] = b"PRIVATE KEY"
    return out


def run_exchange(g: Guarded) -> None:
    topo = g.topology
    g.bridge = topo.start_bridge()
    worker = topo.worker_exchange()
    url = topo.bridge_url
    kcs, ind, vn = topo.systems["KR-KCS"], topo.systems["ID-SKA"], topo.systems["VN-ECOSYS"]
    admin = {"Authorization": f"Bearer {topo.admin_token}"}

    # Accepted: KR→ID with zeep, ID→KR raw SOAP, VN→KR REST.
    co_kr = sample_form_ak("KR-2026-AK-000901", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co_kr)
    assert kcs.submit_soap(url, KCS, kcs.envelope_for(co_kr, "K-1"), xml).PrcsRsltCd == "accepted"
    co_id = sample_form_ak("0901/SKA-AK/JKT/2026", "ID", "KR", TODAY)
    xml, _, _ = ind.document_for(co_id)
    answer = soap_submit(url, AMS, ind.auth_headers(), ind.envelope_for(co_id, "I-1"), xml or b"")
    assert answer.outcome == "accepted"
    g.keep(answer)
    co_vn = sample_form_ak("VN-KR 26/01/00901", "VN", "KR", TODAY)
    _, doc, sig = vn.document_for(co_vn)
    answer = rest_submit(url, vn.auth_headers(), rest_json(vn.envelope_for(co_vn, "V-1"), doc, sig))
    assert answer.outcome == "accepted"
    g.keep(answer)

    # Refused: no token, wrong token, impersonation, tampering, hostile XML, bad JSON.
    wrong = {"Authorization": "Bearer " + secrets.token_urlsafe(24)}
    g.keep(soap_submit(url, KCS, {}, kcs.envelope_for(co_kr, "K-2"), b"<x/>"))
    g.keep(rest_submit(url, wrong, rest_json(vn.envelope_for(co_vn, "V-2"), doc, sig)))
    g.keep(soap_submit(url, AMS, ind.auth_headers(), kcs.envelope_for(co_kr, "K-3"), b"<x/>"))
    xml, _, _ = kcs.document_for(sample_form_ak("KR-2026-AK-000902", "KR", "ID", TODAY))
    assert xml is not None
    tampered = xml.replace(b"Hanbit", b"Forged", 1)
    g.keep(soap_submit(url, KCS, kcs.auth_headers(), kcs.envelope_for(co_kr, "K-4"), tampered))
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    g.keep(soap_submit(url, KCS, kcs.auth_headers(), kcs.envelope_for(co_kr, "K-5"), xxe))
    g.keep(
        requests.post(url + "/rest/v1/documents", data=b"{", headers=vn.auth_headers(), timeout=5)
    )
    g.keep(rest_status(url, vn.auth_headers(), "ID", co_id.reference_no))  # not VN's: not found

    # Delivered (signed with the decrypted bridge key); Indonesia refuses one with a fault.
    ind.mode = "fault"
    co_late = sample_form_ak("KR-2026-AK-000903", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co_late)
    answer = soap_submit(url, KCS, kcs.auth_headers(), kcs.envelope_for(co_late, "K-6"), xml or b"")
    g.keep(answer)
    for _ in range(10):
        if not worker.deliver_due().attempted:
            break
    # two certificates of two COs: delivered side by side, in either order
    assert sorted(r.certificate.reference_no for r in kcs.received) == sorted(
        [co_id.reference_no, co_vn.reference_no]
    )
    assert vn.received == [] and ind.received == []  # KR→ID: refused by Indonesia's fault

    # Status, as the admin and as the partners.
    g.keep(rest_status(url, admin, "KR", co_kr.reference_no))
    g.keep(soap_query(url, AMS, ind.auth_headers(), "KR", co_kr.reference_no))
    g.keep(soap_query(url, KCS, kcs.auth_headers(), "VN", co_vn.reference_no))
    g.keep(requests.get(url + "/readyz", timeout=5))


def test_no_secret_in_logs_answers_deliveries_audit_or_database(
    guarded: Guarded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    run_exchange(guarded)
    assert guarded.bridge is not None
    store = guarded.bridge.store

    codes = {r["code"] for r in store.audit_events("rejected")}
    assert codes >= {"unauthenticated", "not_authorized", "signature_invalid", "forbidden_xml"}
    assert "POST /soap/kcs" in caplog.text  # the servers' threads were captured too
    assert store.verify_audit() == []

    sent = [r.raw for s in guarded.topology.systems.values() for r in s.received]
    audit = "\n".join(str(row) for row in store.audit_events(limit=100_000)).encode()
    database = b"".join(
        p.read_bytes() for p in store.path.parent.glob(store.path.name + "*") if p.is_file()
    )
    places = {
        "log": caplog.text.encode(),
        "answers": b"\n".join(guarded.answers),
        "deliveries": b"\n".join(sent),
        "audit": audit,
        "database": database,
    }
    for name, secret in secrets_of(guarded).items():
        assert len(secret) >= 11, name
        for place, haystack in places.items():
            assert secret not in haystack, f"{name} found in the {place}"


def test_a_wrong_or_missing_passphrase_names_the_variable_never_the_secret(
    guarded: Guarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = guarded.topology.settings.root / "config"
    wrong = "wrong-" + secrets.token_urlsafe(12)
    settings = load_settings(config, environ={PASSPHRASE_ENV: wrong})
    with pytest.raises(ConfigError) as err:
        build_exchange(settings)
    assert wrong not in str(err.value) and guarded.passphrase not in str(err.value)
    assert "passphrase" in str(err.value)
    unset = load_settings(config, environ={})  # read-only commands still load
    with pytest.raises(ConfigError, match=PASSPHRASE_ENV):
        build_exchange(unset)
