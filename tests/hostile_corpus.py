"""The hostile-input corpus under ``tests/hostile/``: loading, filling in, sending.

Why a helper module: the corpus is data (files plus ``manifest.toml``), but most of its
items only bite when wrapped around something *genuine* — a DOCTYPE in front of an otherwise
acceptable request, a signature lifted from a real signed document. Those genuine parts need
the per-run test PKI, so the files carry placeholders (``@REQUEST@``, ``@SIGNED@``, …) that
:class:`Materials` fills in with fresh, valid content for the partner that is calling. A
lax bridge would then *accept and store* the message, which is exactly what the tests catch.

Used by ``test_hostile.py`` (against a running bridge) and by ``fuzzing.py`` (as seeds).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod, XMLSigner

from ak_bridge.adapters.web import soap
from ak_bridge.core.model import Envelope, FormAK
from ak_bridge.security.signing import Signer, load_identity
from ak_bridge.security.xmlio import NS_DSIG
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.partners import PartnerSystem
from ak_bridge.sim.pki import make_rogue_cert
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS, KCS, SoapContract

CORPUS_DIR = Path(__file__).resolve().parent / "hostile"
MANIFEST = CORPUS_DIR / "manifest.toml"

Kind = Literal["xml", "soap", "signed", "json"]
Placement = Literal[
    "soap-body", "soap-document", "rest-body", "rest-document-xml", "rest-signature"
]

TODAY = datetime.now(UTC).date()
PLACEHOLDER = re.compile(rb"@[A-Z][A-Z0-9_]+@")
BIG_STRING_LENGTH = 900_000  # under the 1 MiB body limit, far over any field's length

# Which partner calls which endpoint, and where its certificates go.
ENDPOINT_PARTNER = {"soap/kcs": "KR-KCS", "soap/ams": "ID-SKA", "rest": "VN-ECOSYS"}
CONTRACTS: dict[str, SoapContract] = {"soap/kcs": KCS, "soap/ams": AMS}
_ROUTE = {"KR-KCS": ("KR", "ID"), "ID-SKA": ("ID", "KR"), "VN-ECOSYS": ("VN", "KR")}
_FOREIGN = {"KR-KCS": "ID-SKA", "ID-SKA": "VN-ECOSYS", "VN-ECOSYS": "KR-KCS"}


@dataclass(frozen=True)
class Item:
    """One corpus entry: a file, what kind of thing it is, and the code it must get."""

    file: str
    kind: Kind
    expect: str
    encode: str | None = None
    sent_at: str | None = None  # soap: the SentAt text of the genuine request

    @property
    def path(self) -> Path:
        return CORPUS_DIR / self.file

    @property
    def raw(self) -> bytes:
        return self.path.read_bytes()


def load_manifest() -> list[Item]:
    with MANIFEST.open("rb") as fh:
        table = tomllib.load(fh)
    items = [Item(**entry) for entry in table["item"]]
    for item in items:
        assert item.path.is_file(), f"manifest names a missing file: {item.file}"
        assert item.kind in ("xml", "soap", "signed", "json"), item
    return items


def corpus_files() -> set[str]:
    """Every file of the corpus (the manifest must name each one)."""
    return {
        str(p.relative_to(CORPUS_DIR))
        for p in CORPUS_DIR.rglob("*")
        if p.is_file() and p.name not in ("manifest.toml", "README.md")
    }


def placements(item: Item) -> list[tuple[str, Placement, str]]:
    """``(endpoint, placement, expected code)`` for every way an item is sent.

    Every item reaches both SOAP endpoints and the REST endpoint. Where the bytes land on
    a layer that is not theirs (JSON to SOAP, XML to REST) the expected code is that
    layer's: ``malformed_xml`` for SOAP, ``schema_violation`` for REST.
    """
    out: list[tuple[str, Placement, str]] = []
    for endpoint in ("soap/kcs", "soap/ams"):
        if item.kind == "xml":
            out.append((endpoint, "soap-body", item.expect))
            out.append((endpoint, "soap-document", item.expect))
        elif item.kind == "soap":
            out.append((endpoint, "soap-body", item.expect))
        elif item.kind == "signed":
            out.append((endpoint, "soap-document", item.expect))
        else:
            out.append((endpoint, "soap-body", "malformed_xml"))
    if item.kind == "xml":
        out.append(("rest", "rest-body", "schema_violation"))
        out.append(("rest", "rest-document-xml", item.expect))
    elif item.kind == "soap":
        out.append(("rest", "rest-body", "schema_violation"))
    elif item.kind == "signed":
        # A JSON partner's signature is a signed XML manifest; anything wrong with it,
        # hostile XML included, is a signature the bridge cannot accept (a refused shape
        # keeps its own code).
        signature_code = (
            item.expect if item.expect.startswith("signature_") else "signature_invalid"
        )
        out.append(("rest", "rest-signature", signature_code))
    else:
        out.append(("rest", "rest-body", item.expect))
    return out


# --------------------------------------------------------------------------- materials


class _Sha1Signer(XMLSigner):
    """signxml refuses to *produce* SHA-1 unless told; an attacker is not so polite."""

    def check_deprecated_methods(self) -> None:
        return None


def _strip_declaration(data: bytes) -> str:
    text = data.decode("utf-8")
    if text.startswith("<?xml"):
        text = text.split("?>", 1)[1]
    return text.strip()


def _split_at_root_end(xml: str) -> tuple[str, str]:
    cut = xml.rindex("</")
    return xml[:cut], xml[cut:]


def _xml(el: etree._Element) -> str:
    return etree.tostring(el, encoding="unicode")


class Materials:
    """Fresh, genuine requests and signatures for the partners of a topology.

    Every call uses a new certificate reference, so a bridge that failed to refuse a
    hostile wrapper would store a new message (not answer "duplicate") and be caught.
    """

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._counter = itertools.count(1)
        pki = topology.workdir / "pki"
        self._rogue: dict[str, Signer] = {}
        for pid in ENDPOINT_PARTNER.values():
            entry = make_rogue_cert(pki, pid)
            self._rogue[pid] = Signer(load_identity(entry.key_file, entry.cert_file, None))
        self._keys = {pid: (pki / f"{pid}.test-key.pem").read_bytes() for pid in _ROUTE}
        self._certs = {pid: (pki / f"{pid}.test-cert.pem").read_bytes() for pid in _ROUTE}

    def system(self, partner_id: str) -> PartnerSystem:
        return self.topology.systems[partner_id]

    def auth_headers(self, partner_id: str) -> dict[str, str]:
        return self.system(partner_id).auth_headers()

    def fresh_co(self, partner_id: str) -> FormAK:
        n = next(self._counter)
        issuing, importing = _ROUTE[partner_id]
        ref = {
            "KR-KCS": f"KR-2026-AK-{n:06d}",
            "ID-SKA": f"{n:04d}/SKA-AK/JKT/2026",
            "VN-ECOSYS": f"VN-KR 26/01/{n:05d}",
        }[partner_id]
        return sample_form_ak(ref, issuing, importing, TODAY)

    def envelope(self, partner_id: str, co: FormAK) -> Envelope:
        return self.system(partner_id).envelope_for(co, f"HOSTILE-{next(self._counter)}")

    # -- SOAP --------------------------------------------------------------------------

    def soap_request(self, contract: SoapContract, partner_id: str, document: bytes) -> bytes:
        """A complete, valid SOAP request carrying ``document`` (hostile or not)."""
        co = self.fresh_co(partner_id)
        return soap.submit_request(contract, self.envelope(partner_id, co), document)

    def valid_soap_request(self, contract: SoapContract, partner_id: str) -> bytes:
        co = self.fresh_co(partner_id)
        xml, _, _ = self.system(partner_id).document_for(co)
        assert xml is not None
        return soap.submit_request(contract, self.envelope(partner_id, co), xml)

    def _soap_fields(
        self, contract: SoapContract, partner_id: str, sent_at: str | None = None
    ) -> dict[str, str]:
        request = etree.fromstring(self.valid_soap_request(contract, partner_id))
        body = request.find(f"{{{soap.NS_SOAP11}}}Body")
        assert body is not None
        operation = body[0]
        header = operation.find(contract.q(contract.header))
        assert header is not None
        if sent_at is not None:
            field = header.find(contract.q(contract.f("sent_at")))
            assert field is not None
            field.text = sent_at
        return {
            "@REQUEST@": _xml(operation),
            "@HEADER@": _xml(header),
            "@NS@": contract.namespace,
            "@SUBMIT@": contract.submit,
            "@DOCUMENT_TAG@": contract.document,
        }

    # -- signatures --------------------------------------------------------------------

    def _sha1_sign(self, partner_id: str, element: etree._Element) -> bytes:
        key = self._keys[partner_id]
        method = (
            SignatureMethod.RSA_SHA256
            if _is_rsa(self._certs[partner_id])
            else SignatureMethod.ECDSA_SHA256
        )
        signed = _Sha1Signer(
            signature_algorithm=method,
            digest_algorithm=DigestAlgorithm.SHA1,
            c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
        ).sign(element, key=key, cert=self._certs[partner_id].decode())
        return etree.tostring(signed)

    def signed_fields(self, partner_id: str, signed: bytes) -> dict[str, str]:
        """Placeholders derived from one genuinely signed document (or JSON manifest)."""
        root = etree.fromstring(signed)
        signature = root.find(f"{{{NS_DSIG}}}Signature")
        assert signature is not None
        unsigned = etree.fromstring(signed)
        unsigned.remove(unsigned.find(f"{{{NS_DSIG}}}Signature"))
        signed_text = _strip_declaration(signed)
        unsigned_text = _xml(unsigned)
        head, tail = _split_at_root_end(signed_text)
        u_head, u_tail = _split_at_root_end(unsigned_text)
        qname = etree.QName(root)
        foreign = self.system(_FOREIGN[partner_id]).signer
        return {
            "@SIGNED@": signed_text,
            "@SIGNED_HEAD@": head,
            "@SIGNED_TAIL@": tail,
            "@SIGNATURE@": _xml(signature),
            "@UNSIGNED@": unsigned_text,
            "@UNSIGNED_HEAD@": u_head,
            "@UNSIGNED_TAIL@": u_tail,
            "@ROOT_NS@": qname.namespace or "",
            "@ROOT_LOCAL@": qname.localname,
            "@FOREIGN_SIGNED@": _strip_declaration(foreign.sign(unsigned)),
            "@ROGUE_SIGNED@": _strip_declaration(self._rogue[partner_id].sign(unsigned)),
            "@SHA1_SIGNED@": _strip_declaration(self._sha1_sign(partner_id, unsigned)),
        }

    # -- REST --------------------------------------------------------------------------

    def rest_parts(self) -> tuple[dict[str, Any], dict[str, Any], bytes]:
        """A fresh, genuine (header, document, signature) from Viet Nam."""
        vn = self.system("VN-ECOSYS")
        co = self.fresh_co("VN-ECOSYS")
        _, document, signature = vn.document_for(co)
        assert document is not None and signature is not None
        env = self.envelope("VN-ECOSYS", co)
        header = {
            "senderId": env.sender,
            "receiverId": env.receiver,
            "documentType": str(env.document_type),
            "messageFunction": str(env.function),
            "messageId": env.message_id,
            "sentAt": env.sent_at.isoformat(),
            "referenceNo": env.reference_no,
            "issuingCountry": env.issuing_country,
        }
        return header, document, signature

    def rest_body(self, **override: Any) -> bytes:
        header, document, signature = self.rest_parts()
        body: dict[str, Any] = {
            "header": header,
            "document": document,
            "signature": base64.b64encode(signature).decode(),
        }
        body.update(override)
        return json.dumps({k: v for k, v in body.items() if v is not None}).encode()

    def _json_fields(self) -> dict[str, str]:
        header, document, signature = self.rest_parts()
        return {
            "@JSON_HEADER@": json.dumps(header),
            "@JSON_DOCUMENT@": json.dumps(document),
            "@JSON_SIGNATURE@": base64.b64encode(signature).decode(),
            "@BIG_STRING@": "A" * BIG_STRING_LENGTH,
        }

    # -- filling in --------------------------------------------------------------------

    def fill(self, item: Item, endpoint: str) -> bytes:
        """The item's bytes with every placeholder replaced for the calling partner."""
        data = item.raw
        if not PLACEHOLDER.search(data) and item.encode is None:
            return data  # binary files stay byte for byte as they are
        text = data.decode("utf-8")
        fields: dict[str, str] = {}
        if item.kind == "soap":
            # Sent to REST, a SOAP request is KCS's (as if posted to the wrong endpoint).
            if endpoint == "rest":
                fields = self._soap_fields(KCS, "KR-KCS", item.sent_at)
            else:
                contract, partner_id = CONTRACTS[endpoint], ENDPOINT_PARTNER[endpoint]
                fields = self._soap_fields(contract, partner_id, item.sent_at)
        elif item.kind == "signed":
            partner_id = ENDPOINT_PARTNER[endpoint]
            if endpoint == "rest":
                _, _, signature = self.rest_parts()
                fields = self.signed_fields(partner_id, signature)
            else:
                co = self.fresh_co(partner_id)
                xml, _, _ = self.system(partner_id).document_for(co)
                assert xml is not None
                fields = self.signed_fields(partner_id, xml)
        elif item.kind == "json":
            fields = self._json_fields()
        for name, value in fields.items():
            text = text.replace(name, value)
        assert not PLACEHOLDER.search(text.encode()), f"unfilled placeholder in {item.file}"
        return text.encode(item.encode or "utf-8")

    def request_for(
        self, item: Item, endpoint: str, placement: Placement
    ) -> tuple[str, bytes, dict[str, str]]:
        """``(path, body, headers)`` to send ``item`` to ``endpoint`` as ``placement``."""
        partner_id = ENDPOINT_PARTNER[endpoint]
        payload = self.fill(item, endpoint)
        headers = dict(self.auth_headers(partner_id))
        if placement == "soap-body":
            contract = CONTRACTS[endpoint]
            headers.update({"Content-Type": soap.CONTENT_TYPE, "SOAPAction": '""'})
            return contract.path, payload, headers
        if placement == "soap-document":
            contract = CONTRACTS[endpoint]
            headers.update({"Content-Type": soap.CONTENT_TYPE, "SOAPAction": '""'})
            return contract.path, self.soap_request(contract, partner_id, payload), headers
        headers["Content-Type"] = "application/json"
        if placement == "rest-body":
            return "/rest/v1/documents", payload, headers
        if placement == "rest-document-xml":
            header, _, _ = self.rest_parts()
            body = {"header": header, "documentXml": base64.b64encode(payload).decode()}
            return "/rest/v1/documents", json.dumps(body).encode(), headers
        assert placement == "rest-signature"
        return (
            "/rest/v1/documents",
            self.rest_body(signature=base64.b64encode(payload).decode()),
            headers,
        )


def _is_rsa(cert_pem: bytes) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    return isinstance(x509.load_pem_x509_certificate(cert_pem).public_key(), rsa.RSAPublicKey)


# --------------------------------------------------------------------------- answers


def error_code(endpoint: str, content: bytes) -> str | None:
    """The typed code in a SOAP fault detail or a JSON error body (None if there is none)."""
    if endpoint == "rest":
        try:
            return json.loads(content)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None
    contract = CONTRACTS[endpoint]
    try:
        root = etree.fromstring(content)
    except etree.XMLSyntaxError:
        return None
    el = root.find(f".//{contract.q(contract.error_detail)}/{contract.q(contract.f('code'))}")
    return el.text if el is not None else None


def is_internal_error(endpoint: str, status: int, content: bytes) -> bool:
    """A crash as a partner sees it: a 500 that is not a typed SOAP fault."""
    if status != 500:
        return False
    return error_code(endpoint, content) is None


def cases(items: list[Item]) -> Iterator[tuple[Item, str, Placement, str]]:
    for item in items:
        for endpoint, placement, expect in placements(item):
            yield item, endpoint, placement, expect
