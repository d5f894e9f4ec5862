"""Making keys and X.509 certificates: the one builder for the CLI and the simulators.

Why one place: ``keys new`` (the authority's own signing key), the test PKI of the simulators
(sim/pki.py) and their TLS PKI (sim/tls_pki.py) each built certificates by hand, and the
three drifted (key identifiers in one, not the others). What makes a certificate acceptable
to the bridge (KeyUsage digitalSignature, ``SIGNING_KEY_USAGE``; BasicConstraints; SKI and
AKI for chain building) is decided here once. Production code imports this module; the
simulators import it too, never the reverse (import-linter forbids ``ak_bridge.sim``).
Nothing here reads the clock or a file: validity comes from the caller, bytes go back to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ak_bridge.security.signing import SIGNING_KEY_USAGE

KeyType = Literal["rsa", "ec"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
Issuer = tuple[PrivateKey, x509.Certificate]  # the CA's key and certificate

CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def new_key(key_type: KeyType, rsa_bits: int = 2048) -> PrivateKey:
    """EC P-256, or RSA of ``rsa_bits`` (3072 for a key meant to live beyond 2030)."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    return ec.generate_private_key(ec.SECP256R1())


def subject_name(
    common_name: str, organisation: str | None = None, country: str | None = None
) -> x509.Name:
    """C, O, CN in that order (most significant first), each only when given."""
    attrs = [
        x509.NameAttribute(oid, value)
        for oid, value in (
            (NameOID.COUNTRY_NAME, country),
            (NameOID.ORGANIZATION_NAME, organisation),
            (NameOID.COMMON_NAME, common_name),
        )
        if value
    ]
    return x509.Name(attrs)


def build_certificate(
    subject: x509.Name,
    key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    *,
    issuer: Issuer | None = None,
    ca_path_length: int | None = None,
    usage: x509.KeyUsage | None = SIGNING_KEY_USAGE,
    extended_usage: Sequence[x509.ObjectIdentifier] = (),
    sans: Sequence[x509.GeneralName] = (),
) -> x509.Certificate:
    """A certificate for ``key``: signed by ``issuer``, or self-signed without one.

    ``ca_path_length`` set makes a CA (BasicConstraints ca=True; give it ``CA_KEY_USAGE``);
    else a leaf, by default a signing one (KeyUsage critical, digitalSignature).
    ``usage=None`` leaves KeyUsage out (TLS leaves: ExtendedKeyUsage says enough). Every
    certificate has a SubjectKeyIdentifier and an AuthorityKeyIdentifier (the issuer's, or its
    own when self-signed), as ``openssl req -x509`` makes them.
    """
    ca = ca_path_length is not None
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    signer_key, issuer_name, issuer_ski = key, subject, ski
    if issuer is not None:
        signer_key, issuer_cert = issuer
        issuer_name = issuer_cert.subject
        issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=ca_path_length), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if extended_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_usage)), False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), False)
    return builder.sign(signer_key, hashes.SHA256())


def signing_request(key: PrivateKey, subject: x509.Name) -> x509.CertificateSigningRequest:
    """A CSR asking the authority's CA for the signing KeyUsage the bridge requires."""
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(SIGNING_KEY_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )


def private_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the best available algorithm when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def pem(item: x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    return item.public_bytes(serialization.Encoding.PEM)
