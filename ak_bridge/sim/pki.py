"""A throwaway test PKI: one CA plus leaf certificates for simulated partners and tests.

Every file is named ``*.test-key.pem`` / ``*.test-cert.pem`` so nobody mistakes these keys
for real ones. Leaves carry KeyUsage digitalSignature (signxml's chain policy requires it)
and SKI/AKI, so they also pass chain validation against ``ca.test-cert.pem``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ak_bridge.security.x509_build import (
    CA_KEY_USAGE,
    KeyType,
    PrivateKey,
    build_certificate,
    new_key,
    pem,
    private_pem,
    subject_name,
)

CA_CERT_FILE = "ca.test-cert.pem"
CA_KEY_FILE = "ca.test-key.pem"
_ORG = "ak-bridge TEST PKI - not for production"


@dataclass(frozen=True)
class PkiEntry:
    """Where one test identity's files are."""

    name: str
    key_file: Path
    cert_file: Path
    key_type: KeyType


def _name(cn: str) -> x509.Name:
    return subject_name(cn, _ORG)


def _write_key(path: Path, key: PrivateKey, passphrase: bytes | None) -> None:
    path.write_bytes(private_pem(key, passphrase))
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(pem(cert))


def _make_ca(not_before: datetime, not_after: datetime) -> tuple[PrivateKey, x509.Certificate]:
    key = new_key("ec")
    cert = build_certificate(
        _name("ak-bridge Test CA"),
        key,
        not_before,
        not_after,
        ca_path_length=0,
        usage=CA_KEY_USAGE,
    )
    return key, cert


def _load_ca(
    directory: Path, passphrase: bytes | None
) -> tuple[PrivateKey, x509.Certificate] | None:
    """Reuse an existing test CA so repeated calls keep one trust root per directory."""
    key_path, cert_path = directory / CA_KEY_FILE, directory / CA_CERT_FILE
    if not (key_path.exists() and cert_path.exists()):
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=passphrase)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path}: unexpected key type")
    return key, x509.load_pem_x509_certificate(cert_path.read_bytes())


def make_test_pki(
    directory: Path,
    names: Sequence[str],
    *,
    passphrase: bytes | None = None,
    validity: Mapping[str, tuple[datetime, datetime]] | None = None,
    key_types: Mapping[str, KeyType] | None = None,
) -> dict[str, PkiEntry]:
    """Create (or extend) a test PKI in ``directory``; one leaf per name.

    Key types alternate RSA-2048 / EC P-256 by position unless ``key_types`` says otherwise.
    ``validity`` overrides a leaf's (not_before, not_after), e.g. to make an expired one.
    Keys are encrypted with ``passphrase`` when given (the CA key too).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    validity = dict(validity or {})
    key_types = dict(key_types or {})
    now = datetime.now(UTC).replace(microsecond=0)
    default_window = (now - timedelta(days=1), now + timedelta(days=365))

    ca = _load_ca(directory, passphrase)
    if ca is None:
        starts = [nb for nb, _ in validity.values()] + [default_window[0]]
        ends = [na for _, na in validity.values()] + [now + timedelta(days=3650)]
        ca_key, ca_cert = _make_ca(min(starts) - timedelta(days=1), max(ends))
        _write_key(directory / CA_KEY_FILE, ca_key, passphrase)
        _write_cert(directory / CA_CERT_FILE, ca_cert)
    else:
        ca_key, ca_cert = ca

    out: dict[str, PkiEntry] = {}
    for index, name in enumerate(names):
        if not name or "/" in name or name.startswith(".") or name == "ca":
            raise ValueError(f"unusable test identity name: {name!r}")
        key_type: KeyType = key_types.get(name, "rsa" if index % 2 == 0 else "ec")
        key = new_key(key_type)
        not_before, not_after = validity.get(name, default_window)
        cert = build_certificate(_name(name), key, not_before, not_after, issuer=(ca_key, ca_cert))
        entry = PkiEntry(
            name,
            directory / f"{name}.test-key.pem",
            directory / f"{name}.test-cert.pem",
            key_type,
        )
        _write_key(entry.key_file, key, passphrase)
        _write_cert(entry.cert_file, cert)
        out[name] = entry
    return out


def self_signed(
    key: PrivateKey, subject: x509.Name, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """A self-signed signing certificate (KeyUsage digitalSignature), to be pinned as is."""
    return build_certificate(subject, key, not_before, not_after)


def make_rogue_cert(directory: Path, name: str, *, key_type: KeyType | None = None) -> PkiEntry:
    """A self-signed look-alike of ``name`` (same subject, same KeyUsage, other key).

    Copies the subject and key type of ``<name>.test-cert.pem`` when it exists, so only a
    real trust check (fingerprint pin or chain) can tell the two apart.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    genuine_path = directory / f"{name}.test-cert.pem"
    subject = _name(name)
    if genuine_path.exists():
        genuine = x509.load_pem_x509_certificate(genuine_path.read_bytes())
        subject = genuine.subject
        if key_type is None:
            key_type = "rsa" if isinstance(genuine.public_key(), rsa.RSAPublicKey) else "ec"
    key_type = key_type or "rsa"
    key = new_key(key_type)
    now = datetime.now(UTC).replace(microsecond=0)
    cert = self_signed(key, subject, now - timedelta(days=1), now + timedelta(days=365))
    entry = PkiEntry(
        name,
        directory / f"{name}.rogue.test-key.pem",
        directory / f"{name}.rogue.test-cert.pem",
        key_type,
    )
    _write_key(entry.key_file, key, None)
    _write_cert(entry.cert_file, cert)
    return entry
