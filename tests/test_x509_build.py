"""The one X.509 builder (security/x509_build.py): what it makes, and that nobody else makes
certificates or keys by hand (keys new, the test PKI and the TLS PKI drifted apart before)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ak_bridge.cli import cli
from ak_bridge.security.x509_build import (
    CA_KEY_USAGE,
    build_certificate,
    new_key,
    subject_name,
)
from ak_bridge.sim.pki import make_test_pki
from ak_bridge.sim.tls_pki import make_tls_pki

PACKAGE = Path(__file__).resolve().parents[1] / "ak_bridge"
NOW = datetime.now(UTC).replace(microsecond=0)
BUILDERS = ("CertificateBuilder(", "CertificateSigningRequestBuilder(", "generate_private_key(")


def ext(cert: x509.Certificate, kind: type) -> object:
    return cert.extensions.get_extension_for_class(kind).value


def test_only_the_builder_makes_keys_and_certificates() -> None:
    makers = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if any(b in p.read_text(encoding="utf-8") for b in BUILDERS)
    }
    assert makers == {"security/x509_build.py"}


def test_a_leaf_chains_to_its_ca_and_a_self_signed_one_names_itself() -> None:
    ca_key = new_key("ec")
    ca = build_certificate(
        subject_name("CA", "Org"), ca_key, NOW, NOW + timedelta(days=2),
        ca_path_length=0, usage=CA_KEY_USAGE,
    )  # fmt: skip
    assert ext(ca, x509.BasicConstraints) == x509.BasicConstraints(ca=True, path_length=0)
    assert ext(ca, x509.KeyUsage).key_cert_sign
    leaf = build_certificate(
        subject_name("leaf", "Org", "KR"), new_key("rsa"), NOW, NOW + timedelta(days=1),
        issuer=(ca_key, ca),
    )  # fmt: skip
    assert leaf.issuer == ca.subject and leaf.subject.rfc4514_string() == "CN=leaf,O=Org,C=KR"
    assert (
        ext(leaf, x509.AuthorityKeyIdentifier).key_identifier
        == ext(ca, x509.SubjectKeyIdentifier).digest
    )
    assert ext(leaf, x509.KeyUsage).digital_signature
    assert not ext(leaf, x509.BasicConstraints).ca
    leaf.verify_directly_issued_by(ca)
    alone = build_certificate(subject_name("me"), new_key("ec"), NOW, NOW + timedelta(days=1))
    assert (
        ext(alone, x509.AuthorityKeyIdentifier).key_identifier
        == ext(alone, x509.SubjectKeyIdentifier).digest
    )
    alone.verify_directly_issued_by(alone)


def test_the_three_callers_get_the_same_kind_of_certificate(tmp_path: Path) -> None:
    """keys new, the test PKI and the TLS PKI: key identifiers everywhere (keys new had none)."""
    result = CliRunner().invoke(cli, ["keys", "new", "--out", str(tmp_path), "--self-signed"])
    assert result.exit_code == 0, result.output
    own = x509.load_pem_x509_certificate((tmp_path / "bridge-cert.pem").read_bytes())
    entry = make_test_pki(tmp_path / "pki", ["KR-KCS"])["KR-KCS"]
    partner = x509.load_pem_x509_certificate(entry.cert_file.read_bytes())
    tls = make_tls_pki(tmp_path / "tls")
    server = x509.load_pem_x509_certificate(tls.server_cert.read_bytes())
    for cert in (own, partner, server):
        assert ext(cert, x509.SubjectKeyIdentifier) and ext(cert, x509.AuthorityKeyIdentifier)
    assert ext(own, x509.KeyUsage) == ext(partner, x509.KeyUsage)
    assert list(ext(server, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert ipaddress.ip_address("127.0.0.1") in ext(
        server, x509.SubjectAlternativeName
    ).get_values_for_type(x509.IPAddress)
    assert not any(isinstance(e.value, x509.KeyUsage) for e in server.extensions)
