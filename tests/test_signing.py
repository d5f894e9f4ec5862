"""Real XMLDSig signatures over a throwaway PKI: what we accept, and every way we refuse."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod, XMLSigner

from ak_bridge.core.errors import (
    ConfigError,
    ForbiddenXml,
    MalformedXml,
    SignatureInvalid,
    SignatureUnsupported,
)
from ak_bridge.security import signing
from ak_bridge.sim.pki import CA_CERT_FILE, PkiEntry, make_rogue_cert, make_test_pki

NS = "urn:example:form-ak:1"
DS = "http://www.w3.org/2000/09/xmldsig#"
PASSPHRASE = b"correct horse battery staple 42"
NOW = datetime.now(UTC)


def _co(exporter: str = "Genuine Exporter Co., Ltd.", *, items: int = 3, id_: str | None = None):
    """A small stand-in for a Form AK certificate of origin."""
    root = etree.Element(f"{{{NS}}}CertificateOfOrigin", nsmap={"ak": NS})
    if id_:
        root.set("Id", id_)
    etree.SubElement(root, f"{{{NS}}}ReferenceNo").text = "KR-2026-000123"
    etree.SubElement(root, f"{{{NS}}}Exporter").text = exporter
    goods = etree.SubElement(root, f"{{{NS}}}Goods")
    for i in range(items):
        item = etree.SubElement(goods, f"{{{NS}}}Item", seq=str(i + 1))
        etree.SubElement(item, f"{{{NS}}}Description").text = f"Item {i + 1} — 한국 제품"
        etree.SubElement(item, f"{{{NS}}}HsCode").text = "8471.30"
    return root


def _exporter(el: etree._Element) -> str | None:
    return el.findtext(f"{{{NS}}}Exporter")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(scope="module")
def pki(pki_dir: Path) -> dict[str, PkiEntry]:
    return make_test_pki(
        pki_dir,
        ["kcs", "vnm", "kcs-next", "expired", "future"],
        key_types={"kcs-next": "ec", "expired": "ec", "future": "rsa"},
        validity={
            "expired": (NOW - timedelta(days=400), NOW - timedelta(days=35)),
            "future": (NOW + timedelta(days=30), NOW + timedelta(days=400)),
        },
    )


@pytest.fixture(scope="module")
def rogue(pki: dict[str, PkiEntry], pki_dir: Path) -> PkiEntry:
    return make_rogue_cert(pki_dir, "kcs")


def _signer(entry: PkiEntry, passphrase: bytes | None = None) -> signing.Signer:
    return signing.Signer(signing.load_identity(entry.key_file, entry.cert_file, passphrase))


def _verifier(*entries: PkiEntry, now=None) -> signing.Verifier:
    return signing.Verifier(signing.load_trusted([e.cert_file for e in entries]), now=now)


@pytest.fixture(scope="module")
def kcs_signed(pki: dict[str, PkiEntry]) -> bytes:
    return _signer(pki["kcs"]).sign(_co())


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("kcs", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
        ("vnm", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"),
    ],
)
def test_round_trip_rsa_and_ec(pki, name, method):
    signer = _signer(pki[name])
    assert pki[name].key_type == ("rsa" if name == "kcs" else "ec")
    assert signer.signature_method == method

    signed = signer.sign(_co())
    assert signed.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")

    doc = etree.fromstring(signed)
    sig = doc[-1]
    assert sig.tag == f"{{{DS}}}Signature", "signature must be the root's last child"
    ns = {"ds": DS}
    assert sig.find("ds:SignedInfo/ds:SignatureMethod", ns).get("Algorithm") == method
    c14n = "http://www.w3.org/2001/10/xml-exc-c14n#"
    assert sig.find("ds:SignedInfo/ds:CanonicalizationMethod", ns).get("Algorithm") == c14n
    ref = sig.find("ds:SignedInfo/ds:Reference", ns)
    assert ref.get("URI") == ""
    assert ref.find("ds:DigestMethod", ns).get("Algorithm").endswith("#sha256")
    cert_b64 = sig.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=ns)
    assert cert_b64 and sig.find("ds:KeyInfo/ds:KeyValue", ns) is None

    verified = _verifier(pki[name]).verify(signed)
    assert verified.tag == f"{{{NS}}}CertificateOfOrigin"
    assert _exporter(verified) == "Genuine Exporter Co., Ltd."
    assert verified.find(f"{{{DS}}}Signature") is None  # only signed content comes back
    assert verified.findtext(f".//{{{NS}}}Description") == "Item 1 — 한국 제품"


def test_round_trip_with_root_id_reference(pki):
    signed = _signer(pki["vnm"]).sign(_co(id_="co-1"))
    assert b'URI="#co-1"' in signed
    assert _exporter(_verifier(pki["vnm"]).verify(signed)) == "Genuine Exporter Co., Ltd."


def test_sign_does_not_mutate_input(pki):
    element = _co()
    before = etree.tostring(element)
    _signer(pki["kcs"]).sign(element)
    assert etree.tostring(element) == before


def test_sign_element_with_tail_text_inside_a_parent(pki):
    parent = etree.Element("wrapper")
    parent.append(_co())
    parent[0].tail = "text after the element"
    signed = _signer(pki["vnm"]).sign(parent[0])
    assert _exporter(_verifier(pki["vnm"]).verify(signed))
    assert parent[0].tail == "text after the element"


def test_sign_refuses_already_signed_element(pki, kcs_signed):
    with pytest.raises(ValueError, match="already"):
        _signer(pki["kcs"]).sign(etree.fromstring(kcs_signed))


def test_signed_element_from_inside_an_envelope_still_verifies_when_embedded(pki):
    """Exclusive C14N: in-scope namespaces of a SOAP envelope must not break the digest."""
    env = etree.fromstring(
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        b' xmlns:x="urn:other" xmlns:ak="urn:example:form-ak:1"><soap:Body/></soap:Envelope>'
    )
    body = env[0]
    body.append(_co())
    signed = _signer(pki["kcs"]).sign(body[0])
    # embed the signed document inline in another envelope, then cut it out again
    env2 = etree.fromstring(
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:y="urn:y">'
        b"<s:Body/></s:Envelope>"
    )
    env2[0].append(etree.fromstring(signed))
    carried = etree.tostring(etree.fromstring(etree.tostring(env2))[0][0])
    assert _exporter(_verifier(pki["kcs"]).verify(carried)) == "Genuine Exporter Co., Ltd."


# --------------------------------------------------------------------------- refusals


def test_tampered_text_is_refused(pki, kcs_signed):
    forged = kcs_signed.replace(b"Genuine Exporter", b"Forged  Exporter")
    assert forged != kcs_signed
    with pytest.raises(SignatureInvalid, match="digest"):
        _verifier(pki["kcs"]).verify(forged)


def test_tampered_signature_value_is_refused(pki, kcs_signed):
    doc = etree.fromstring(kcs_signed)
    value = doc.find(f".//{{{DS}}}SignatureValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SignatureInvalid, match="does not verify"):
        _verifier(pki["kcs"]).verify(etree.tostring(doc))


def test_rogue_same_cn_certificate_is_not_pinned(pki, rogue):
    genuine = x509.load_pem_x509_certificate(pki["kcs"].cert_file.read_bytes())
    fake = x509.load_pem_x509_certificate(rogue.cert_file.read_bytes())
    assert fake.subject == genuine.subject and fake.public_key() != genuine.public_key()

    signed = _signer(rogue).sign(_co("Forged Exporter"))
    with pytest.raises(SignatureInvalid, match="not pinned for this partner"):
        _verifier(pki["kcs"]).verify(signed)


def test_rogue_signature_carrying_the_pinned_certificate_is_refused(pki, rogue):
    """Swapping the genuine certificate into KeyInfo passes the pin lookup, not the crypto."""
    signed = _signer(rogue).sign(_co("Forged Exporter"))
    doc = etree.fromstring(signed)
    node = doc.find(f".//{{{DS}}}X509Certificate")
    genuine = x509.load_pem_x509_certificate(pki["kcs"].cert_file.read_bytes())
    node.text = base64.b64encode(genuine.public_bytes(Encoding.DER)).decode()
    with pytest.raises(SignatureInvalid, match="does not verify"):
        _verifier(pki["kcs"]).verify(etree.tostring(doc))


def test_signed_by_other_partner_is_refused(pki):
    signed = _signer(pki["vnm"]).sign(_co())
    with pytest.raises(SignatureInvalid, match="not pinned"):
        _verifier(pki["kcs"]).verify(signed)


def test_unsigned_document_is_refused(pki):
    with pytest.raises(SignatureInvalid, match="document is not signed"):
        _verifier(pki["kcs"]).verify(etree.tostring(_co(), xml_declaration=True))


def test_not_xml_and_doctype_are_rejected_before_any_crypto(pki, kcs_signed):
    v = _verifier(pki["kcs"])
    with pytest.raises(MalformedXml):
        v.verify(b"this is not xml")
    with pytest.raises(ForbiddenXml):
        v.verify(b'<!DOCTYPE x [<!ENTITY e "boom">]>' + kcs_signed.split(b"?>", 1)[1])


def test_signature_without_keyinfo_is_checked_against_each_pin_and_only_the_pins(pki, kcs_signed):
    doc = etree.fromstring(kcs_signed)
    key_info = doc.find(f".//{{{DS}}}KeyInfo")
    key_info.getparent().remove(key_info)
    bare = etree.tostring(doc)
    assert _exporter(_verifier(pki["vnm"], pki["kcs"]).verify(bare)) == "Genuine Exporter Co., Ltd."
    with pytest.raises(SignatureInvalid, match="does not verify with the pinned certificate"):
        _verifier(pki["vnm"]).verify(bare)
    with pytest.raises(SignatureInvalid, match="does not verify with any pinned certificate"):
        _verifier(pki["vnm"], pki["kcs-next"]).verify(bare)


def test_two_signatures_at_root_are_refused(pki, kcs_signed):
    doc = etree.fromstring(kcs_signed)
    doc.append(copy.deepcopy(doc[-1]))
    with pytest.raises(SignatureInvalid, match="more than one signature"):
        _verifier(pki["kcs"]).verify(etree.tostring(doc))


def test_enveloping_signature_is_refused(pki, kcs_signed):
    sig = etree.fromstring(kcs_signed)[-1]
    with pytest.raises(SignatureInvalid, match="enveloping"):
        _verifier(pki["kcs"]).verify(etree.tostring(sig))


_XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
_INCLUSIVE = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


def _set_algorithm(doc: etree._Element, path: str, uri: str) -> None:
    doc.find(f"{{{DS}}}Signature/{path}", {"ds": DS}).set("Algorithm", uri)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda d: _set_algorithm(d, "ds:SignedInfo/ds:CanonicalizationMethod", "urn:x"),
            "canonicalization urn:x is not accepted",
        ),
        (
            lambda d: _set_algorithm(d, "ds:SignedInfo/ds:SignatureMethod", DS + "dsa-sha1"),
            "SHA-1 signatures are not accepted",
        ),
        (
            lambda d: _set_algorithm(d, "ds:SignedInfo/ds:SignatureMethod", "urn:rsa-md5"),
            "signature method urn:rsa-md5 is not accepted",
        ),
        (
            lambda d: _set_algorithm(d, ".//ds:Transform[2]", DS + "base64"),
            "base64 transforms are not accepted",
        ),
        (
            lambda d: _set_algorithm(d, ".//ds:Transform[2]", _XPATH_FILTER2),
            "XPath Filter 2.0 transforms are not accepted",
        ),
        (
            lambda d: _set_algorithm(d, ".//ds:Transform[1]", "urn:x" + "y" * 200),
            r"transform urn:xyyy\S*\.\.\. is not accepted",
        ),
        (
            lambda d: _set_algorithm(d, ".//ds:Transform[2]", DS + "enveloped-signature"),
            "each transform may appear once",
        ),
        (
            lambda d: _set_algorithm(d, ".//ds:Transform[1]", _INCLUSIVE),
            "needs the enveloped-signature transform",
        ),
        (
            lambda d: (
                _set_algorithm(d, "ds:SignedInfo/ds:CanonicalizationMethod", _INCLUSIVE),
                d.set("{http://www.w3.org/XML/1998/namespace}lang", "en"),
            ),
            "xml:\\* attributes",
        ),
    ],
    ids=[
        "c14n",
        "dsa-sha1",
        "md5",
        "base64",
        "xpath-filter2",
        "unknown-long",
        "twice",
        "no-enveloped",
        "xml-lang-inclusive",
    ],
)
def test_refused_shapes_name_the_setting_before_any_cryptography(pki, kcs_signed, change, reason):
    doc = etree.fromstring(kcs_signed)
    change(doc)
    with pytest.raises(SignatureUnsupported, match=reason) as refused:
        _verifier(pki["kcs"]).verify(etree.tostring(doc))
    assert refused.value.code == "signature_unsupported"
    assert len(refused.value.detail) < 250


def test_garbage_inside_signature_is_a_short_refusal(pki, kcs_signed):
    doc = etree.fromstring(kcs_signed)
    method = doc.find(f".//{{{DS}}}SignatureMethod")
    method.set("Algorithm", "urn:made-up")
    with pytest.raises(SignatureInvalid) as info:
        _verifier(pki["kcs"]).verify(etree.tostring(doc))
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 200


# --------------------------------------------------------------------------- validity


def test_expired_pinned_certificate_is_refused(pki):
    signed = _signer(pki["expired"]).sign(_co())
    with pytest.raises(SignatureInvalid, match="expired"):
        _verifier(pki["expired"]).verify(signed)


def test_not_yet_valid_pinned_certificate_is_refused(pki):
    signed = _signer(pki["future"]).sign(_co())
    with pytest.raises(SignatureInvalid, match="not valid before"):
        _verifier(pki["future"]).verify(signed)


def test_validity_is_checked_at_verification_time_from_the_clock(pki):
    signed = _signer(pki["future"]).sign(_co())
    later = NOW + timedelta(days=60)
    assert _exporter(_verifier(pki["future"], now=lambda: later).verify(signed))
    naive_later = later.replace(tzinfo=None)  # naive clocks are read as UTC
    assert _exporter(_verifier(pki["future"], now=lambda: naive_later).verify(signed))

    kcs_signed = _signer(pki["kcs"]).sign(_co())
    far_future = NOW + timedelta(days=3 * 365)
    with pytest.raises(SignatureInvalid, match="expired"):
        _verifier(pki["kcs"], now=lambda: far_future).verify(kcs_signed)


def test_rollover_two_pinned_certificates_are_both_accepted(pki):
    verifier = _verifier(pki["kcs"], pki["kcs-next"])
    for name in ("kcs", "kcs-next"):
        signed = _signer(pki[name]).sign(_co(f"signed by {name}"))
        assert _exporter(verifier.verify(signed)) == f"signed by {name}"
    with pytest.raises(SignatureInvalid, match="not pinned"):
        verifier.verify(_signer(pki["vnm"]).sign(_co()))


# --------------------------------------------------------------------------- wrapping


def test_wrapping_forged_first_genuine_deeper_is_refused(pki, kcs_signed):
    genuine = etree.fromstring(kcs_signed)
    forged = _co("Forged Exporter")
    wrapper = etree.SubElement(forged, f"{{{NS}}}Extension")
    wrapper.append(genuine)
    attack = etree.tostring(forged)
    assert forged.findtext(f"{{{NS}}}Exporter") == "Forged Exporter"
    with pytest.raises(SignatureInvalid, match="not signed"):
        _verifier(pki["kcs"]).verify(attack)


def test_wrapping_with_signature_hoisted_to_forged_root_is_refused(pki):
    """Id-referenced variant: signxml alone accepts it (returning the deeper genuine part)."""
    signed = etree.fromstring(_signer(pki["kcs"]).sign(_co(id_="co-1")))
    sig = signed[-1]
    signed.remove(sig)
    forged = _co("Forged Exporter", id_="forged")
    forged.insert(0, sig)
    etree.SubElement(forged, f"{{{NS}}}Extension").append(signed)
    with pytest.raises(SignatureInvalid, match="whole document"):
        _verifier(pki["kcs"]).verify(etree.tostring(forged))

    forged.set("Id", "co-1")  # same Id on both: ambiguous
    with pytest.raises(SignatureInvalid):
        _verifier(pki["kcs"]).verify(etree.tostring(forged))


def test_returned_element_only_holds_signed_data(pki, kcs_signed):
    """A comment injected into signed text survives verification, but not in what we return."""
    injected = kcs_signed.replace(b"Genuine Exporter", b"Genuine<!-- x --> Exporter")
    received = etree.fromstring(injected)
    assert _exporter(received) == "Genuine"  # a naive reader is fooled
    verified = _verifier(pki["kcs"]).verify(injected)
    assert _exporter(verified) == "Genuine Exporter Co., Ltd."
    assert not any(isinstance(n, etree._Comment) for n in verified.iter())
    # and it is exactly the signed canonical content, nothing more
    expected = _co()
    assert etree.tostring(verified, method="c14n") == etree.tostring(expected, method="c14n")


# --------------------------------------------------------------------------- algorithms


class _Sha1AllowedSigner(XMLSigner):
    """signxml refuses SHA-1 when signing unless told otherwise; attackers are not so polite."""

    def check_deprecated_methods(self) -> None:
        return None


@pytest.mark.parametrize(
    ("method", "digest"),
    [
        (SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA256),
        (SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA1),
        (SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1),
    ],
)
def test_sha1_signatures_are_refused(pki, method, digest):
    entry = pki["kcs"]
    signer = _Sha1AllowedSigner(signature_algorithm=method, digest_algorithm=digest)
    signed = signer.sign(
        _co(), key=entry.key_file.read_bytes(), cert=entry.cert_file.read_bytes().decode()
    )
    data = etree.tostring(signed)
    assert b"sha1" in data
    with pytest.raises(SignatureUnsupported, match="SHA-1 .* not accepted"):
        _verifier(entry).verify(data)


def test_sha512_rsa_signature_is_accepted(pki):
    entry = pki["kcs"]
    signer = XMLSigner(signature_algorithm="rsa-sha512", digest_algorithm="sha512")
    signed = signer.sign(
        _co(), key=entry.key_file.read_bytes(), cert=entry.cert_file.read_bytes().decode()
    )
    assert _exporter(_verifier(entry).verify(etree.tostring(signed)))


# --------------------------------------------------------------------------- JSON manifests


def test_sign_json_round_trip(pki):
    payload = {"referenceNo": "KR-2026-000123", "exporter": "한국 수출", "items": [1, 2.5, None]}
    manifest = _signer(pki["vnm"]).sign_json(payload)
    doc = etree.fromstring(manifest)
    sj = "urn:ak-bridge:signed-json:1"
    assert doc.tag == f"{{{sj}}}SignedJson"
    assert doc.findtext(f"{{{sj}}}ContentType") == "application/json"
    canonical = signing.canonical_json(payload)
    assert doc.findtext(f"{{{sj}}}Sha256") == hashlib.sha256(canonical).hexdigest()

    verifier = _verifier(pki["vnm"])
    verifier.verify_json(payload, manifest)
    reordered = {"items": [1, 2.5, None], "exporter": "한국 수출", "referenceNo": "KR-2026-000123"}
    verifier.verify_json(reordered, manifest)  # key order is not content


def test_verify_json_refuses_tampered_payload_and_foreign_manifests(pki, kcs_signed):
    payload = {"referenceNo": "KR-2026-000123", "fob": "1000.00"}
    manifest = _signer(pki["kcs"]).sign_json(payload)
    verifier = _verifier(pki["kcs"])
    with pytest.raises(SignatureInvalid, match="does not match"):
        verifier.verify_json({**payload, "fob": "9000.00"}, manifest)
    with pytest.raises(SignatureInvalid, match="digest"):
        verifier.verify_json(payload, manifest.replace(b"application/json", b"application/jsoN"))
    with pytest.raises(SignatureInvalid, match="not a signed JSON manifest"):
        verifier.verify_json(payload, kcs_signed)
    with pytest.raises(SignatureInvalid, match="not pinned"):
        _verifier(pki["vnm"]).verify_json(payload, manifest)


# --------------------------------------------------------------------------- identity and trust


def test_passphrase_protected_key_loads_and_never_leaks(tmp_path):
    entry = make_test_pki(tmp_path, ["kcs"], passphrase=PASSPHRASE)["kcs"]
    assert b"ENCRYPTED" in entry.key_file.read_bytes()
    identity = signing.load_identity(entry.key_file, entry.cert_file, PASSPHRASE)
    text = repr(identity) + str(identity)
    assert PASSPHRASE.decode() not in text and "PRIVATE KEY" not in text
    assert "CN=kcs" in text

    signed = signing.Signer(identity).sign(_co())
    assert _exporter(_verifier(entry).verify(signed))

    for wrong in (b"not the passphrase", None):
        with pytest.raises(ConfigError) as info:
            signing.load_identity(entry.key_file, entry.cert_file, wrong)
        message = str(info.value) + repr(info.value)
        assert PASSPHRASE.decode() not in message and "not the passphrase" not in message
        assert "PRIVATE KEY" not in message and info.value.__cause__ is None


def test_identity_key_must_match_certificate(pki):
    with pytest.raises(ConfigError, match="does not match"):
        signing.load_identity(pki["kcs"].key_file, pki["vnm"].cert_file, None)


def test_missing_files_are_config_errors(tmp_path, pki):
    with pytest.raises(ConfigError, match="cannot read"):
        signing.load_identity(tmp_path / "nope.pem", pki["kcs"].cert_file, None)
    with pytest.raises(ConfigError, match="cannot read"):
        signing.load_trusted([tmp_path / "nope.pem"])


def test_trusted_cert_fields_and_bundles(pki, tmp_path):
    cert = x509.load_pem_x509_certificate(pki["kcs"].cert_file.read_bytes())
    (tc,) = signing.load_trusted([pki["kcs"].cert_file])
    assert tc.fingerprint == hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    assert tc.not_before == cert.not_valid_before_utc and tc.not_after == cert.not_valid_after_utc
    assert tc.not_before.tzinfo is not None and tc.valid_at(NOW)
    assert "CN=kcs" in tc.subject and "BEGIN" not in repr(tc)

    bundle = tmp_path / "rollover.pem"
    bundle.write_bytes(pki["kcs"].cert_file.read_bytes() + pki["kcs-next"].cert_file.read_bytes())
    both = signing.load_trusted([bundle, pki["kcs"].cert_file])  # duplicates collapse
    assert len(both) == 2


def test_certificate_without_digital_signature_cannot_be_pinned(pki, pki_dir):
    with pytest.raises(ConfigError, match="digitalSignature"):
        signing.load_trusted([pki_dir / CA_CERT_FILE])


def test_verifier_needs_at_least_one_pin():
    with pytest.raises(ConfigError):
        signing.Verifier([])


# --------------------------------------------------------------------------- the test PKI itself


def test_test_pki_shape(pki, pki_dir):
    ca = x509.load_pem_x509_certificate((pki_dir / CA_CERT_FILE).read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ca_usage.key_cert_sign and ca_usage.crl_sign
    for name, entry in pki.items():
        assert entry.key_file.name == f"{name}.test-key.pem"
        assert entry.cert_file.name == f"{name}.test-cert.pem"
        leaf = x509.load_pem_x509_certificate(entry.cert_file.read_bytes())
        leaf.verify_directly_issued_by(ca)
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ca_ski.digest
        leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert pki["kcs"].key_type == "rsa" and pki["vnm"].key_type == "ec"


def test_test_pki_reuses_its_ca(pki_dir, pki):
    before = (pki_dir / CA_CERT_FILE).read_bytes()
    extra = make_test_pki(pki_dir, ["extra"])["extra"]
    assert (pki_dir / CA_CERT_FILE).read_bytes() == before
    ca = x509.load_pem_x509_certificate(before)
    x509.load_pem_x509_certificate(extra.cert_file.read_bytes()).verify_directly_issued_by(ca)
