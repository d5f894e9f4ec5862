"""Documents signed by partners' own toolkits (xmlsec1, the JDK) verify in every common shape;
the shapes we refuse get ``signature_unsupported`` naming the setting, never "does not verify".

Each shape is its own test case, for an RSA and an EC partner. The verifier pins two
certificates of the partner's key type (as during a rollover), so a signature without a
certificate in KeyInfo must find its pin. Every verified document is then decoded with the
codec, which validates it against the XSD: an ``Id`` on the root must pass the schema too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from bridge_client import Answer, soap_submit
from flows import state
from lxml import etree
from signxml import CanonicalizationMethod
from toolkit_signers import (
    C14N,
    DIGEST,
    ENVELOPED,
    JdkSigner,
    Shape,
    base64_line_lengths,
    matrix,
    partner_default,
    xmlsec1_sign,
    xmlsec1_template,
)

from ak_bridge.core.errors import SignatureInvalid, SignatureUnsupported
from ak_bridge.formats.akstd import AkStdCodec
from ak_bridge.formats.unipass import UnipassCodec
from ak_bridge.security import signing
from ak_bridge.security.dsig_c14n import RootedC14nVerifier
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.pki import KeyType, PkiEntry, make_test_pki
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS

TODAY = datetime.now(UTC).date()
REF = "0701/SKA-AK/JKT/2026"
KEY_TYPES = ("rsa", "ec")
XMLSEC1_CASES = [(k, s) for k in KEY_TYPES for s in matrix(k, ec_key_value=False)]
JDK_CASES = [(k, s) for k in KEY_TYPES for s in matrix(k, ec_key_value=True)]


def _ids(cases: list[tuple[str, Shape]]) -> list[str]:
    return [f"{k}:{s.id}" for k, s in cases]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PkiEntry]:
    key_types: dict[str, KeyType] = {
        f"{role}-{k}": k for role in ("partner", "next") for k in ("rsa", "ec")
    }
    return make_test_pki(
        tmp_path_factory.mktemp("toolkit-pki"), list(key_types), key_types=key_types
    )


def _verifier(pki: dict[str, PkiEntry], key_type: str) -> signing.Verifier:
    pins = [pki[f"next-{key_type}"].cert_file, pki[f"partner-{key_type}"].cert_file]
    return signing.Verifier(signing.load_trusted(pins))


def _document() -> bytes:
    return etree.tostring(AkStdCodec().encode(sample_form_ak(REF, "ID", "KR", TODAY)))


def _check_accepted(signed: bytes, shape: Shape, verifier: signing.Verifier) -> None:
    """The file has the shape it claims, verifies, and its signed content passes the XSD."""
    assert C14N[shape.c14n].encode() in signed
    assert (b"<Signature xmlns=" in signed) == (shape.prefix == "")
    assert (b"KeyInfo" in signed) == (shape.key_info != "none")
    assert (b"X509Certificate" in signed) == shape.key_info.startswith("cert")
    assert (b'URI="#' in signed) == (shape.root_id is not None)
    assert (b"\r\n" in signed) == (shape.layout == "crlf")
    lengths = base64_line_lengths(signed)
    if shape.wrap:
        assert max(lengths) == shape.wrap, lengths
    elif shape.wrap == 0:
        assert len(lengths) == 1, lengths
    verified = verifier.verify(signed)
    co = AkStdCodec().decode(verified)
    assert co.reference_no == REF
    assert verified.get("Id") == shape.root_id


@pytest.mark.parametrize(("key_type", "shape"), XMLSEC1_CASES, ids=_ids(XMLSEC1_CASES))
def test_xmlsec1_signed_shape_is_accepted(
    pki: dict[str, PkiEntry], tmp_path: Path, key_type: str, shape: Shape
) -> None:
    signed = xmlsec1_sign(_document(), shape, pki[f"partner-{key_type}"], tmp_path)
    _check_accepted(signed, shape, _verifier(pki, key_type))


@pytest.fixture(scope="module")
def jdk(tmp_path_factory: pytest.TempPathFactory) -> JdkSigner:
    return JdkSigner(tmp_path_factory.mktemp("jdk-build"))


@pytest.fixture(scope="module")
def jdk_signed(
    pki: dict[str, PkiEntry], jdk: JdkSigner, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bytes]:
    """Every JDK shape, signed in two JVM runs (the JDK's wrapping is a JVM-wide setting)."""
    jobs = [(_document(), s, pki[f"partner-{k}"]) for k, s in JDK_CASES]
    out = jdk.sign_batch(jobs, tmp_path_factory.mktemp("jdk-signed"))
    return dict(zip(_ids(JDK_CASES), out, strict=True))


@pytest.mark.parametrize(("key_type", "shape"), JDK_CASES, ids=_ids(JDK_CASES))
def test_jdk_signed_shape_is_accepted(
    pki: dict[str, PkiEntry], jdk_signed: dict[str, bytes], key_type: str, shape: Shape
) -> None:
    signed = jdk_signed[f"{key_type}:{shape.id}"]
    _check_accepted(signed, shape, _verifier(pki, key_type))


def test_unipass_document_with_an_id_reference_passes_its_schema(
    pki: dict[str, PkiEntry], tmp_path: Path
) -> None:
    codec = UnipassCodec()
    document = etree.tostring(codec.encode(sample_form_ak("KR-0701", "KR", "ID", TODAY)))
    shape = Shape(prefix="", c14n="inc", key_info="none", root_id="kcs-doc-1")
    signed = xmlsec1_sign(document, shape, pki["partner-rsa"], tmp_path)
    verified = _verifier(pki, "rsa").verify(signed)
    assert codec.decode(verified).reference_no == "KR-0701"


def test_rooted_c14n_has_no_spurious_default_namespace_undeclaration() -> None:
    """libxml2 2.14 writes xmlns="" on grandchildren of a default-namespace subtree."""
    doc = etree.fromstring(
        b'<r xmlns="urn:doc"><S xmlns="urn:sig"><SI><C/><R><T><U/></T></R></SI></S></r>'
    )
    out = RootedC14nVerifier()._c14n(doc[0][0], CanonicalizationMethod.CANONICAL_XML_1_0)
    assert out == b'<SI xmlns="urn:sig"><C></C><R><T><U></U></T></R></SI>'


def test_a_keyvalue_naming_another_key_is_refused_even_though_the_value_verifies(
    pki: dict[str, PkiEntry], tmp_path: Path
) -> None:
    """KeyValue sits outside SignedInfo: swapping it must not go unnoticed."""
    shape = Shape(key_info="keyvalue")
    signed = etree.fromstring(xmlsec1_sign(_document(), shape, pki["partner-rsa"], tmp_path / "a"))
    other = etree.fromstring(xmlsec1_sign(_document(), shape, pki["next-rsa"], tmp_path / "b"))
    mine, theirs = (d.find(".//{*}KeyValue") for d in (signed, other))
    mine.getparent().replace(mine, theirs)
    with pytest.raises(SignatureInvalid, match="KeyValue is not the key of the pinned"):
        signing.Verifier(signing.load_trusted([pki["partner-rsa"].cert_file])).verify(
            etree.tostring(signed)
        )


# --------------------------------------------------------------------------- refusals

_C14N_TRANSFORM = f'<Transform Algorithm="{C14N["exc"]}"/>'
_XPATH = (
    '<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">'
    "<XPath>not(ancestor-or-self::*[local-name()='Signature'])</XPath></Transform>"
)
_XSLT = (
    '<Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116">'
    '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
    '<xsl:template match="@*|node()"><xsl:copy><xsl:apply-templates select="@*|node()"/>'
    "</xsl:copy></xsl:template></xsl:stylesheet></Transform>"
)
_REFUSED_TRANSFORMS = {
    "XPath": f'<Transform Algorithm="{ENVELOPED}"/>{_XPATH}{_C14N_TRANSFORM}',
    "XSLT": f'<Transform Algorithm="{ENVELOPED}"/>{_XSLT}{_C14N_TRANSFORM}',
    "no-enveloped": f"{_XPATH}{_C14N_TRANSFORM}",
}
_UNPREFIXED = Shape(prefix="")


def _refused(signed: bytes, verifier: signing.Verifier, reason: str) -> None:
    with pytest.raises(SignatureUnsupported, match=reason) as refused:
        verifier.verify(signed)
    assert refused.value.code == "signature_unsupported"
    assert "does not verify" not in refused.value.detail


@pytest.mark.parametrize(
    ("name", "reason"),
    [("XPath", "XPath transforms"), ("XSLT", "XSLT transforms"), ("no-enveloped", "XPath")],
)
def test_transforms_other_than_enveloped_and_c14n_are_refused(
    pki: dict[str, PkiEntry], tmp_path: Path, name: str, reason: str
) -> None:
    template = xmlsec1_template(_UNPREFIXED, transforms=_REFUSED_TRANSFORMS[name])
    signed = xmlsec1_sign(_document(), _UNPREFIXED, pki["partner-rsa"], tmp_path, template=template)
    assert b"REC-xpath" in signed or b"REC-xslt" in signed
    _refused(signed, _verifier(pki, "rsa"), reason)


@pytest.mark.parametrize(
    ("method", "digest"), [("rsa-sha1", "sha256"), ("rsa-sha256", "sha1"), ("rsa-sha1", "sha1")]
)
def test_sha1_is_refused_by_name(
    pki: dict[str, PkiEntry], tmp_path: Path, method: str, digest: str
) -> None:
    shape = Shape(method=method)
    template = xmlsec1_template(shape).replace(DIGEST["sha256"], DIGEST[digest])
    signed = xmlsec1_sign(_document(), shape, pki["partner-rsa"], tmp_path, template=template)
    _refused(signed, _verifier(pki, "rsa"), "SHA-1 .* not accepted")


@pytest.mark.parametrize("method", ["hmac-sha256", "hmac-sha1"])
def test_hmac_is_refused_by_name(pki: dict[str, PkiEntry], tmp_path: Path, method: str) -> None:
    shape = Shape(method=method, key_info="none")
    signed = xmlsec1_sign(_document(), shape, None, tmp_path, hmac_key=b"shared secret 0123456789")
    assert b"hmac" in signed
    _refused(signed, _verifier(pki, "rsa"), "HMAC signatures are not accepted")


def test_xmlsec1_signature_wrapped_around_a_forged_document_is_refused(
    pki: dict[str, PkiEntry], tmp_path: Path
) -> None:
    """The genuine signed root (Id reference) hidden inside a forged root, signature hoisted."""
    shape = Shape(root_id="ak-doc-1")
    genuine = etree.fromstring(xmlsec1_sign(_document(), shape, pki["partner-rsa"], tmp_path))
    signature = genuine[-1]
    forged = etree.fromstring(_document())
    forged.find("{*}Exporter/{*}Name").text = "Forged Exporter"
    forged.append(signature)
    forged.insert(len(forged) - 1, genuine)
    with pytest.raises(SignatureInvalid, match="must cover the whole document"):
        _verifier(pki, "rsa").verify(etree.tostring(forged))


def test_xmlsec1_signature_moved_onto_altered_content_is_refused(
    pki: dict[str, PkiEntry], tmp_path: Path
) -> None:
    genuine = etree.fromstring(xmlsec1_sign(_document(), _UNPREFIXED, pki["partner-rsa"], tmp_path))
    genuine.find("{*}Exporter/{*}Name").text = "Forged Exporter"
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        _verifier(pki, "rsa").verify(etree.tostring(genuine))


# --------------------------------------------------------------------------- end to end

_PARTNER_DEFAULT = partner_default()


def _indonesia(topology: Topology) -> tuple[PkiEntry, bytes]:
    """ID-SKA's key in the topology's PKI and an unsigned document of its format."""
    pki_dir = topology.workdir / "pki"
    key, cert = pki_dir / "ID-SKA.test-key.pem", pki_dir / "ID-SKA.test-cert.pem"
    codec = topology.systems["ID-SKA"].codec
    document = etree.tostring(codec.encode(sample_form_ak(REF, "ID", "KR", TODAY)))
    return PkiEntry("ID-SKA", key, cert, "rsa"), document


def _submit(topology: Topology, signed: bytes, message_id: str) -> Answer:
    ind = topology.systems["ID-SKA"]
    envelope = ind.envelope_for(sample_form_ak(REF, "ID", "KR", TODAY), message_id)
    return soap_submit(topology.bridge_url, AMS, ind.auth_headers(), envelope, signed)


@pytest.mark.parametrize("toolkit", ["xmlsec1", "jdk"])
def test_bridge_accepts_the_partner_default_shape_over_soap(
    topology: Topology, jdk: JdkSigner, toolkit: str
) -> None:
    entry, document = _indonesia(topology)
    if toolkit == "xmlsec1":
        signed = xmlsec1_sign(document, _PARTNER_DEFAULT, entry, topology.workdir / "signing")
    else:
        jobs = [(document, _PARTNER_DEFAULT, entry)]
        signed = jdk.sign_batch(jobs, topology.workdir / "signing")[0]
    bridge = topology.start_bridge()
    answer = _submit(topology, signed, f"ID-{toolkit}-1")
    assert (answer.code, answer.outcome) == (None, "accepted"), answer.content[:300]
    assert state(bridge, REF, "ID") == "ISSUED"


def test_bridge_refuses_an_xpath_transform_with_its_reason_over_soap(topology: Topology) -> None:
    entry, document = _indonesia(topology)
    xpath = xmlsec1_template(_UNPREFIXED, transforms=_REFUSED_TRANSFORMS["XPath"])
    signed = xmlsec1_sign(document, _UNPREFIXED, entry, topology.workdir / "x", template=xpath)
    bridge = topology.start_bridge()
    answer = _submit(topology, signed, "ID-xpath-1")
    assert answer.code == "signature_unsupported", answer.content[:300]
    assert b"XPath transforms are not accepted" in answer.content
    assert [r["code"] for r in bridge.store.audit_events("rejected")] == ["signature_unsupported"]
