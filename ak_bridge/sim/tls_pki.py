"""A throwaway TLS PKI per run: a CA, a loopback server certificate, a client certificate.

Separate from the signing PKI (pki.py): a partner's HTTPS server and the bridge's TLS client
identity are not document-signing keys. The server certificate names 127.0.0.1 (IP SAN) and
``localhost``, so hostname checks pass on loopback and nowhere else.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from ak_bridge.security.x509_build import Issuer, PrivateKey, build_certificate, new_key
from ak_bridge.sim.pki import _make_ca, _name, _write_cert, _write_key


@dataclass(frozen=True)
class TlsPki:
    """Where one run's TLS files are."""

    ca_cert: Path
    server_key: Path
    server_cert: Path
    client_key: Path
    client_cert: Path

    @property
    def server_sha256(self) -> str:
        """The pin a partner's operator would give: SHA-256 of the server's DER certificate."""
        cert = x509.load_pem_x509_certificate(self.server_cert.read_bytes())
        return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        """What a partner's HTTPS server loads; optionally it demands our client certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.server_cert), str(self.server_key))
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(str(self.ca_cert))
        return ctx


def _leaf(
    ca: Issuer, name: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]
) -> tuple[PrivateKey, x509.Certificate]:
    """A TLS leaf: ExtendedKeyUsage serverAuth or clientAuth, no signing KeyUsage."""
    key = new_key("ec")
    now = datetime.now(UTC).replace(microsecond=0)
    cert = build_certificate(
        _name(name),
        key,
        now - timedelta(days=1),
        now + timedelta(days=30),
        issuer=ca,
        usage=None,
        extended_usage=[usage],
        sans=sans,
    )
    return key, cert


def make_tls_pki(directory: Path, label: str = "partner") -> TlsPki:
    """A new TLS CA in ``directory`` with one server and one client certificate under it."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca = _make_ca(now - timedelta(days=1), now + timedelta(days=60))
    server = _leaf(
        ca,
        f"{label} TLS server",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client = _leaf(ca, f"{label} TLS client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    out = TlsPki(
        directory / f"{label}-tls-ca.test-cert.pem",
        directory / f"{label}-tls-server.test-key.pem",
        directory / f"{label}-tls-server.test-cert.pem",
        directory / f"{label}-tls-client.test-key.pem",
        directory / f"{label}-tls-client.test-cert.pem",
    )
    _write_cert(out.ca_cert, ca[1])
    for (key, cert), key_file, cert_file in (
        (server, out.server_key, out.server_cert),
        (client, out.client_key, out.client_cert),
    ):
        _write_key(key_file, key, None)
        _write_cert(cert_file, cert)
    return out
