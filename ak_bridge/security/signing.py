"""XMLDSig signing and verification of Form AK documents (with dsig_c14n, the only modules
importing signxml).

Policy (see stack-notes.md section 3; the accepted inbound shapes are in dsig_policy):

* enveloped signature, last child of the document root, one reference covering the whole
  document (``URI=""`` or ``#<root Id>``);
* we sign with exclusive C14N, so a signed document still verifies once embedded inline in a
  SOAP Body; partners may use exclusive or inclusive C14N, with or without comments;
* RSA-SHA256 or ECDSA-SHA256 out, SHA-2 only in (SHA-1 and HMAC are refused);
* partners are trusted by *pinned* certificates, matched by SHA-256 fingerprint, never by a
  public CA bundle or by what KeyInfo says; a pinned certificate outside its validity window
  is refused;
* callers only ever get ``result.signed_xml`` back, the canonicalised signed content, so an
  attacker cannot smuggle unsigned data (wrapping, comments) past verification.

Build one :class:`Signer` and one :class:`Verifier` per identity / partner and reuse them:
keys and certificates are parsed once, not per message.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
)
from signxml.exceptions import (
    InvalidCertificate,
    InvalidDigest,
    InvalidInput,
    InvalidSignature,
    SignXMLException,
)

from ak_bridge.core.errors import ConfigError, ForbiddenXml, MalformedXml, SignatureInvalid
from ak_bridge.security import dsig_policy, xmlio
from ak_bridge.security.dsig_c14n import RootedC14nVerifier

log = logging.getLogger(__name__)

NS_SIGNED_JSON = "urn:ak-bridge:signed-json:1"
JSON_CONTENT_TYPE = "application/json"

_DS = xmlio.NS_DSIG
_DS_SIGNATURE = f"{{{_DS}}}Signature"
_DS_NS = {"ds": _DS}
_EXC_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0

_ACCEPTED_SIGNATURE_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)
_ACCEPTED_DIGESTS = frozenset(
    {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)
_BASE_CONFIG = SignatureConfiguration(
    require_x509=True,
    location="./",
    expect_references=1,
    signature_methods=_ACCEPTED_SIGNATURE_METHODS,
    digest_algorithms=_ACCEPTED_DIGESTS,
)

# Unexpected shapes inside a hostile Signature element surface from signxml as plain
# Python errors (bad base64, unknown algorithm URI, missing text); all mean "refuse".
_MALFORMED = (SignXMLException, etree.Error, ValueError, TypeError, KeyError, UnsupportedAlgorithm)


def _hardened_parser() -> etree.XMLParser:
    """The parser signxml uses for its internal re-parses: the same one as xmlio's."""
    return xmlio.hardened_parser()


# lxml serialises concurrent use of one parser internally, so one instance is enough.
_SIGNXML_PARSER = _hardened_parser()


# --------------------------------------------------------------------------- identity


@dataclass(frozen=True)
class SigningIdentity:
    """Our private key and certificate (chain) as PEM; kept out of repr and messages."""

    key_pem: bytes
    cert_pem: bytes
    passphrase: bytes | None

    def __repr__(self) -> str:
        try:
            subject = x509.load_pem_x509_certificate(self.cert_pem).subject.rfc4514_string()
        except ValueError:
            subject = "<unparseable certificate>"
        secret = "<redacted>" if self.passphrase is not None else None
        return f"SigningIdentity(cert={subject!r}, key=<redacted>, passphrase={secret})"

    __str__ = __repr__


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "file", f"cannot read: {exc.strerror}") from None


_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _load_key(identity: SigningIdentity, source: str) -> _PrivateKey:
    """Decrypt the key; errors name the file, never the passphrase or key bytes."""
    try:
        key = load_pem_private_key(identity.key_pem, password=identity.passphrase)
    except TypeError:
        problem = (
            "private key is encrypted but no passphrase was given"
            if identity.passphrase is None
            else "a passphrase was given but the private key is not encrypted"
        )
        raise ConfigError(source, "private key", problem) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            source, "private key", "cannot load the private key (wrong passphrase or not a PEM key)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(source, "private key", "only RSA and EC keys are supported")
    return key


def _load_chain(cert_pem: bytes, source: str) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise ConfigError(source, "certificate", "not a PEM certificate") from None
    return chain


# What a signing certificate's KeyUsage should say: digitalSignature (which signxml's chain
# policy and partners require) and nonRepudiation (a CO signature is a commitment).
SIGNING_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def _digital_signature_allowed(cert: x509.Certificate) -> bool | None:
    """True/False from KeyUsage, None when the extension is absent."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return usage.digital_signature


def _check_identity(
    identity: SigningIdentity, source: str
) -> tuple[_PrivateKey, list[x509.Certificate]]:
    key = _load_key(identity, source)
    chain = _load_chain(identity.cert_pem, source)
    if chain[0].public_key() != key.public_key():
        raise ConfigError(source, "certificate", "the first certificate does not match the key")
    # Partners verifying with a chain (signxml's default policy) require this bit.
    if _digital_signature_allowed(chain[0]) is not True:
        raise ConfigError(source, "certificate", "KeyUsage must include digitalSignature")
    return key, chain


def load_identity(key_file: Path, cert_file: Path, passphrase: bytes | None) -> SigningIdentity:
    """Read and check our identity at start-up, so a bad key fails there, not per message."""
    identity = SigningIdentity(_read(key_file), _read(cert_file), passphrase)
    _check_identity(identity, f"{key_file} + {cert_file}")
    return identity


# --------------------------------------------------------------------------- trust


@dataclass(frozen=True)
class TrustedCert:
    """One pinned partner certificate, parsed once; matched by SHA-256 fingerprint of its DER."""

    pem: bytes = field(repr=False)
    fingerprint: str = field(init=False)
    subject: str = field(init=False)
    not_before: datetime = field(init=False)
    not_after: datetime = field(init=False)
    _cert: x509.Certificate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cert = x509.load_pem_x509_certificate(self.pem)  # ValueError if not a certificate
        der = cert.public_bytes(Encoding.DER)
        object.__setattr__(self, "fingerprint", hashlib.sha256(der).hexdigest())
        object.__setattr__(self, "subject", cert.subject.rfc4514_string())
        object.__setattr__(self, "not_before", cert.not_valid_before_utc)
        object.__setattr__(self, "not_after", cert.not_valid_after_utc)
        object.__setattr__(self, "_cert", cert)

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after


@lru_cache(maxsize=256)
def _load_trusted_file(path: str, _mtime_ns: int, _size: int) -> tuple[TrustedCert, ...]:
    """Cached per (path, mtime, size): a changed file is re-read, an unchanged one never."""
    data = _read(Path(path))
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(path, "certificate", "no PEM certificate found") from None
    out = []
    for cert in certs:
        pem = cert.public_bytes(Encoding.PEM)
        if _digital_signature_allowed(cert) is False:
            raise ConfigError(
                path,
                "certificate",
                f"{cert.subject.rfc4514_string()}: KeyUsage lacks digitalSignature",
            )
        out.append(TrustedCert(pem))
    return tuple(out)


def load_trusted(paths: Iterable[Path | str]) -> tuple[TrustedCert, ...]:
    """Pinned certificates from PEM files (a file may hold several, e.g. during rollover)."""
    seen: dict[str, TrustedCert] = {}
    for p in paths:
        try:
            st = os.stat(p)
        except OSError as exc:
            raise ConfigError(str(p), "file", f"cannot read: {exc.strerror}") from None
        for tc in _load_trusted_file(str(Path(p).resolve()), st.st_mtime_ns, st.st_size):
            seen.setdefault(tc.fingerprint, tc)
    return tuple(seen.values())


# --------------------------------------------------------------------------- signing


def canonical_json(payload: Mapping) -> bytes:
    """The bytes a JSON manifest's hash covers: key order and whitespace cannot change it."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _manifest(payload: Mapping) -> etree._Element:
    root = etree.Element(f"{{{NS_SIGNED_JSON}}}SignedJson", nsmap={None: NS_SIGNED_JSON})
    etree.SubElement(root, f"{{{NS_SIGNED_JSON}}}ContentType").text = JSON_CONTENT_TYPE
    digest = hashlib.sha256(canonical_json(payload)).hexdigest()
    etree.SubElement(root, f"{{{NS_SIGNED_JSON}}}Sha256").text = digest
    return root


class Signer:
    """Signs outbound documents with our identity; the key is decrypted once, here."""

    def __init__(self, identity: SigningIdentity) -> None:
        self._key, self._chain = _check_identity(identity, "signing identity")
        self._method = (
            SignatureMethod.RSA_SHA256
            if isinstance(self._key, rsa.RSAPrivateKey)
            else SignatureMethod.ECDSA_SHA256
        )
        self.certificate_fingerprint = hashlib.sha256(
            self._chain[0].public_bytes(Encoding.DER)
        ).hexdigest()

    @property
    def signature_method(self) -> str:
        return self._method.value

    def sign(self, element: etree._Element) -> bytes:
        """Enveloped signature as the root's last child; the input element is left untouched."""
        if not isinstance(element, etree._Element):
            raise TypeError("sign() takes an lxml element")
        if element.find(_DS_SIGNATURE) is not None:
            raise ValueError("element already carries an enveloped signature")
        # Our own copy: the caller's tree is never touched, and a tail (text after the
        # element in its parent) would otherwise be serialised along and break the parse.
        element = copy.deepcopy(element)
        element.tail = None
        signer = XMLSigner(
            signature_algorithm=self._method,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=_EXC_C14N,
        )
        signed = signer.sign(element, key=self._key, cert=self._chain)
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")

    def sign_json(self, payload: Mapping) -> bytes:
        """A signed XML manifest carrying the SHA-256 of the canonical JSON payload."""
        return self.sign(_manifest(payload))


# --------------------------------------------------------------------------- verification


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


class Verifier:
    """Verifies inbound documents against one partner's pinned certificates.

    Trust comes only from the pinned certificates, whatever KeyInfo says: a KeyInfo
    certificate only picks which pin to try (it must be one of them); without one (KeyValue
    only, or no KeyInfo) each pin valid now is tried.
    """

    def __init__(
        self,
        trusted: Sequence[TrustedCert],
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if not trusted:
            raise ConfigError("signing", "trusted", "at least one pinned certificate is required")
        self._by_fingerprint = {tc.fingerprint: tc for tc in trusted}
        self._now = now or (lambda: datetime.now(UTC))

    def _now_utc(self) -> datetime:
        now = self._now()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def verify(self, data: bytes | etree._Element) -> etree._Element:
        """Verify and return only the signed content; business data must be read from it.

        ``data``: the bytes received, or the tree ``xmlio.parse_untrusted`` made of them (the
        exchange parses once, to recognise Form D, and verifies that same tree).
        """
        root = data if isinstance(data, etree._Element) else xmlio.parse_untrusted(data)
        if root.tag == _DS_SIGNATURE:
            raise SignatureInvalid("enveloping signatures are not accepted")
        signatures = root.findall(_DS_SIGNATURE)
        if not signatures:
            raise SignatureInvalid("document is not signed")
        if len(signatures) > 1:
            raise SignatureInvalid("document carries more than one signature")
        dsig_policy.check_shape(root, signatures[0])
        now = self._now_utc()
        candidates = self._candidates(signatures[0])
        valid = [tc for tc in candidates if tc.valid_at(now)]
        if not valid:
            raise _validity_error(candidates[0], now)
        for pinned in _fitting(valid, signatures[0]):
            try:
                return _verify_with(root, pinned, now)
            except _WrongKey:
                continue
        which = "the pinned certificate" if len(candidates) == 1 else "any pinned certificate"
        raise SignatureInvalid(f"signature value does not verify with {which}")

    def verify_json(self, payload: Mapping, signature: bytes) -> None:
        """Check a JSON partner's signed manifest and that it covers exactly this payload."""
        try:
            manifest = self.verify(signature)
        except (MalformedXml, ForbiddenXml):
            raise SignatureInvalid("the signature is not a signed XML manifest") from None
        if manifest.tag != f"{{{NS_SIGNED_JSON}}}SignedJson":
            raise SignatureInvalid("signature is not a signed JSON manifest")
        content_type = manifest.findtext(f"{{{NS_SIGNED_JSON}}}ContentType")
        signed_hash = manifest.findtext(f"{{{NS_SIGNED_JSON}}}Sha256")
        if (content_type or "").strip() != JSON_CONTENT_TYPE:
            raise SignatureInvalid("signed manifest is not for application/json")
        actual = hashlib.sha256(canonical_json(payload)).hexdigest()
        if not hmac.compare_digest((signed_hash or "").strip().lower(), actual):
            raise SignatureInvalid("JSON payload does not match its signed manifest")

    def _candidates(self, signature: etree._Element) -> list[TrustedCert]:
        """The pins to try: the one a KeyInfo certificate names, else all of them."""
        nodes = signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _DS_NS)
        if not nodes:
            return list(self._by_fingerprint.values())
        for node in nodes:
            try:
                der = base64.b64decode("".join((node.text or "").split()), validate=True)
            except (binascii.Error, ValueError):
                raise SignatureInvalid("X509Certificate is not valid base64") from None
            pinned = self._by_fingerprint.get(hashlib.sha256(der).hexdigest())
            if pinned is not None:
                return [pinned]
        raise SignatureInvalid("signing certificate is not pinned for this partner")


def _fitting(pins: list[TrustedCert], signature: etree._Element) -> list[TrustedCert]:
    """Without a KeyInfo certificate, only pins of the signature method's key type can fit."""
    node = signature.find("ds:SignedInfo/ds:SignatureMethod", _DS_NS)
    method = node.get("Algorithm", "") if node is not None else ""
    kind = ec.EllipticCurvePublicKey if "#ecdsa-" in method else rsa.RSAPublicKey
    return [tc for tc in pins if isinstance(tc._cert.public_key(), kind)]


class _WrongKey(Exception):
    """The signature value does not verify with this pin (another pin may still fit)."""


def _validity_error(pinned: TrustedCert, now: datetime) -> SignatureInvalid:
    if now < pinned.not_before:
        return SignatureInvalid(
            f"signing certificate is not valid before {pinned.not_before.isoformat()}"
        )
    return SignatureInvalid(f"signing certificate expired at {pinned.not_after.isoformat()}")


def _verify_with(root: etree._Element, pinned: TrustedCert, now: datetime) -> etree._Element:
    """One signxml verification against one pin; every signxml error becomes a typed one."""
    try:
        result = RootedC14nVerifier().verify(
            root,
            x509_cert=pinned._cert,
            expect_config=replace(_BASE_CONFIG, verification_time=now),
            parser=_SIGNXML_PARSER,
        )
    except InvalidDigest:
        raise SignatureInvalid("signed content was altered (digest mismatch)") from None
    except InvalidCertificate as exc:
        log.debug("certificate refused: %s", exc)
        raise SignatureInvalid("signing certificate refused") from None
    except InvalidSignature as exc:
        log.debug("signature refused: %s", exc)
        raise _WrongKey from None
    except InvalidInput as exc:
        if "KeyValue" in str(exc):  # signxml: a KeyValue other than the pinned key
            raise SignatureInvalid("KeyValue is not the key of the pinned certificate") from None
        raise SignatureInvalid(f"signature does not meet policy: {_short(exc)}") from None
    except etree.DocumentInvalid:
        raise SignatureInvalid("Signature element does not match the XMLDSig schema") from None
    except _MALFORMED as exc:
        log.debug("malformed signature: %r", exc)
        raise SignatureInvalid("malformed signature") from None
    if result.signed_xml is None:
        raise SignatureInvalid("signed content is not an XML element")
    return result.signed_xml
