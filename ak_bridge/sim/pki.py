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
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ak_bridge.security.signing import SIGNING_KEY_USAGE

KeyType = Literal["rsa", "ec"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

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


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write_key(path: Path, key: PrivateKey, passphrase: bytes | None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _leaf_usage() -> x509.KeyUsage:
    return SIGNING_KEY_USAGE


def _make_ca(
    not_before: datetime, not_after: datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("ak-bridge Test CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
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


def _issue_leaf(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    name: str,
    key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


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
        key = _new_key(key_type)
        not_before, not_after = validity.get(name, default_window)
        cert = _issue_leaf(ca_key, ca_cert, name, key, not_before, not_after)
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
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


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
    key = _new_key(key_type)
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
