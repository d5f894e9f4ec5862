"""Which XMLDSig shapes we accept from partners, checked before any cryptography.

Partners sign with their own toolkits (xmlsec1, the JDK's javax.xml.crypto, .NET SignedXml,
xml-crypto), whose default shapes differ. A shape we refuse gets its own reason, as
:class:`SignatureUnsupported`, naming the algorithm or transform: a partner told "does not
verify with the pinned certificate" goes looking at its keys when the cause is a setting.

Accepted (README "What we accept: signatures" says the same):

* one enveloped ``Signature``, any prefix or the default namespace, one ``Reference`` covering
  the whole document (``URI=""`` or ``#<Id of the root>``);
* transforms: enveloped-signature (required) and at most one of the C14N family;
* ``CanonicalizationMethod``: C14N 1.0 / 1.1 / exclusive, with or without comments;
* RSA or ECDSA with SHA-256/384/512; digests SHA-256/384/512.
"""

from __future__ import annotations

from lxml import etree

from ak_bridge.core.errors import SignatureInvalid, SignatureUnsupported
from ak_bridge.security import xmlio

_DS = xmlio.NS_DSIG
_NS = {"ds": _DS}
_XML_NS = "http://www.w3.org/XML/1998/namespace"

ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXCLUSIVE = frozenset(
    {
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    }
)
INCLUSIVE = frozenset(
    {
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
        "http://www.w3.org/2006/12/xml-c14n11",
        "http://www.w3.org/2006/12/xml-c14n11#WithComments",
    }
)
C14N = EXCLUSIVE | INCLUSIVE
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
SIGNATURE_METHODS = frozenset(
    f"{_MORE}{alg}-{sha}" for alg in ("rsa", "ecdsa") for sha in ("sha256", "sha384", "sha512")
)
DIGEST_METHODS = frozenset(
    {
        "http://www.w3.org/2001/04/xmlenc#sha256",
        f"{_MORE}sha384",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    }
)

# Refused transforms a toolkit may offer, by name; anything else is "not accepted" too.
_KNOWN_TRANSFORMS = {
    "http://www.w3.org/TR/1999/REC-xpath-19991116": "XPath",
    "http://www.w3.org/2002/06/xmldsig-filter2": "XPath Filter 2.0",
    "http://www.w3.org/TR/1999/REC-xslt-19991116": "XSLT",
    "http://www.w3.org/2000/09/xmldsig#base64": "base64",
}


def _uri(text: str | None) -> str:
    """An attacker-chosen URI, bounded for the error message."""
    text = (text or "").strip()
    return text if len(text) <= 80 else text[:77] + "..."


def _algorithm(parent: etree._Element, child: str) -> str:
    node = parent.find(f"ds:{child}", _NS)
    if node is None or not node.get("Algorithm"):
        raise SignatureInvalid(f"signature has no {child} algorithm")
    return node.get("Algorithm", "")


def _check_signature_method(uri: str) -> None:
    if uri in SIGNATURE_METHODS:
        return
    lowered = uri.lower()
    if "hmac" in lowered:
        raise SignatureUnsupported(
            f"HMAC signatures are not accepted ({_uri(uri)}): a shared secret proves nothing "
            "to a third party; use RSA or ECDSA with SHA-256/384/512"
        )
    if "sha1" in lowered:
        raise SignatureUnsupported(
            f"SHA-1 signatures are not accepted ({_uri(uri)}): use RSA or ECDSA with SHA-256"
        )
    raise SignatureUnsupported(
        f"signature method {_uri(uri)} is not accepted: use RSA or ECDSA with SHA-256/384/512"
    )


def _check_digest(uri: str) -> None:
    if uri in DIGEST_METHODS:
        return
    what = "SHA-1 digests are" if "sha1" in uri.lower() else f"digest method {_uri(uri)} is"
    raise SignatureUnsupported(f"{what} not accepted: use SHA-256, SHA-384 or SHA-512")


def _check_transforms(reference: etree._Element) -> None:
    transforms = reference.findall("ds:Transforms/ds:Transform", _NS)
    algorithms = [t.get("Algorithm", "") for t in transforms]
    for uri in algorithms:
        if uri == ENVELOPED or uri in C14N:
            continue
        name = _KNOWN_TRANSFORMS.get(uri)
        label = f"{name} transforms are" if name else f"transform {_uri(uri)} is"
        raise SignatureUnsupported(
            f"{label} not accepted: only enveloped-signature and C14N (exclusive or inclusive)"
        )
    if ENVELOPED not in algorithms:
        raise SignatureUnsupported("an enveloped signature needs the enveloped-signature transform")
    if len(algorithms) != len(set(algorithms)) or sum(u in C14N for u in algorithms) > 1:
        raise SignatureUnsupported("each transform may appear once, and at most one C14N")


def _check_xml_attributes(signature: etree._Element, c14n: str) -> None:
    """Inclusive C14N of SignedInfo inherits xml:lang etc. from ancestors; signxml loses them.

    No partner document carries them, so refuse clearly rather than answer "does not verify".
    """
    if c14n not in INCLUSIVE:
        return
    node: etree._Element | None = signature
    while node is not None:
        if any(name.startswith(f"{{{_XML_NS}}}") for name in node.attrib):
            raise SignatureUnsupported(
                "inclusive C14N with xml:* attributes around the Signature is not supported: "
                "use exclusive C14N"
            )
        node = node.getparent()


def require_whole_document_reference(root: etree._Element, reference: etree._Element) -> None:
    """The one reference must cover the root, so signed_xml *is* the document, not a part of it.

    signxml would accept ``#id`` pointing at an element moved deeper by an attacker (its
    enveloped transform is idempotent); returning that part is safe but surprising, so refuse.
    """
    uri = reference.get("URI")
    if uri == "":
        return
    if uri is None or not uri.startswith("#") or uri.startswith("#xpointer("):
        raise SignatureInvalid("signature reference must cover the whole document")
    matches = root.xpath(
        "//*[@*[local-name()='Id' or local-name()='ID' or local-name()='id'][.=$v]]", v=uri[1:]
    )
    if len(matches) != 1 or matches[0] is not root:
        raise SignatureInvalid("signature reference must cover the whole document")


def check_shape(root: etree._Element, signature: etree._Element) -> None:
    """Refuse every shape outside the accepted set, with the reason, before verifying."""
    signed_info = signature.find("ds:SignedInfo", _NS)
    if signed_info is None:
        raise SignatureInvalid("signature has no SignedInfo")
    c14n = _algorithm(signed_info, "CanonicalizationMethod")
    if c14n not in C14N:
        raise SignatureUnsupported(
            f"canonicalization {_uri(c14n)} is not accepted: use exclusive or inclusive C14N"
        )
    _check_signature_method(_algorithm(signed_info, "SignatureMethod"))
    references = signed_info.findall("ds:Reference", _NS)
    if len(references) != 1:
        raise SignatureInvalid("signature must carry exactly one reference")
    reference = references[0]
    require_whole_document_reference(root, reference)
    _check_digest(_algorithm(reference, "DigestMethod"))
    _check_transforms(reference)
    _check_xml_attributes(signature, c14n)
