"""Codec for the agreed e-Form AK standard, 1.0 and 1.1 (``standard/akstd/eformak-1.*.xsd``).

The namespace decides the version on the way in; on the way out the codec writes the
version it was built for (:meth:`AkStdCodec.at_version`), and 1.0 refuses a certificate that
uses a 1.1 value (``version_not_lossless``) instead of dropping it.

Why: this is the neutral format every partner can be offered; its element names follow the
WCO Data Model / UN/CEFACT vocabulary (see ``wsdl/README.md`` for the box-by-box table).
Decoding validates against the XSD first, then builds the canonical dict and loads it with
:mod:`ak_bridge.core.canonical`, so a bad document is always a ``SchemaViolation`` naming its box.

Pure: no I/O beyond reading the XSD once through :mod:`ak_bridge.security.xmlio`, no clock.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from lxml import etree

from ak_bridge.core.canonical import canonical_from_dict, canonical_to_dict
from ak_bridge.core.errors import SchemaViolation
from ak_bridge.core.model import FormAK
from ak_bridge.core.versions import ALL_1_1, require_carried, require_edition
from ak_bridge.security import xmlio

__all__ = [
    "AKSTD_NS",
    "AKSTD_ROOT",
    "AKSTD_XSD",
    "NAMESPACES",
    "AkStdCodec",
    "validate_with_boxes",
]

AKSTD_NS = "urn:ak-bridge:eformak:1.0"
AKSTD_ROOT = f"{{{AKSTD_NS}}}CertificateOfOrigin"
AKSTD_XSD = "akstd/eformak-1.0.xsd"
NAMESPACES = {"1.0": AKSTD_NS, "1.1": "urn:ak-bridge:eformak:1.1"}
VERSION_OF = {ns: v for v, ns in NAMESPACES.items()}
XSD_OF = {"1.0": AKSTD_XSD, "1.1": "akstd/eformak-1.1.xsd"}
_LOCODE_RE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}\Z")

# Local name -> box, only for names that mean one thing wherever they occur; generic names
# (Name, ID, IssueDate, ...) are resolved through their parent on the error path.
BOX_OF: dict[str, str] = {
    "IssuingCountry": "header",
    "Exporter": "1",
    "Consignee": "2",
    "Transport": "3",
    "DepartureDate": "3",
    "TransportMeansName": "3",
    "LoadingLocation": "3",
    "UnloadingLocation": "3",
    "ModeCode": "3",
    "TransitLocation": "3",
    "RouteDescription": "3",
    "TransportDocument": "3",
    "Exhibition": "2",
    "NationalTariffCode": "7",
    "IssuingBody": "12",
    "Issuer": "10",
    "GoodsItem": "5",
    "SequenceNumeric": "5",
    "ShippingMarks": "6",
    "Packaging": "7",
    "QuantityQuantity": "7",
    "TypeCode": "7",
    "Description": "7",
    "Classification": "7",
    "EditionCode": "7",
    "OriginCriterion": "8",
    "Kind": "8",
    "RVCPercent": "8",
    "CTCLevel": "8",
    "GrossWeight": "9",
    "Quantity": "7",
    "FOBValue": "9",
    "Invoice": "10",
    "ThirdCountryInvoicer": "7",
    "ExporterDeclaration": "11",
    "ProductionCountryCode": "11",
    "ImportationCountryCode": "11",
    "SignatoryPlace": "11",
    "SignatoryDate": "11",
    "SignatoryName": "11",
    "SignatoryTitle": "11",
    "Certification": "12",
    "AuthorityID": "12",
    "AuthorityName": "12",
    "IssuePlace": "12",
    "OfficerName": "12",
    "SealID": "12",
    "ElectronicSignatureIndicator": "12",
    "ThirdCountryInvoicingIndicator": "13",
    "ExhibitionIndicator": "13",
    "BackToBackIndicator": "13",
    "IssuedRetroactivelyIndicator": "marking",
    "CertifiedTrueCopyIndicator": "marking",
    "OriginalCertificate": "7",
    "ReplacesReference": "header",
    "OriginalIssueDate": "header",
    "Remarks": "header",
}

_EXPECTED_RE = re.compile(r"Expected is(?: one of)? \(([^)]*)\)")


def validate_with_boxes(element: etree._Element, xsd: str, box_of: dict[str, str]) -> None:
    """``xmlio.validate``, then a sharper box for the first error.

    libxml2 reports a missing element as "Element 'Next': This element is not expected.
    Expected is ( Optional, Missing )" and gives the node as a positional path
    (``/*/*[4]/*[1]``), so a generic name such as ``Name`` or ``ID`` cannot be placed by its
    local name alone. Here the last expected element (the mandatory one) decides first; else
    the failing node and its ancestors are looked up in ``box_of``; else xmlio's box stands.
    """
    try:
        xmlio.validate(element, xsd, box_of)
    except SchemaViolation as exc:
        box = _sharper_box(element, xmlio.load_schema(xsd), box_of, exc.detail)
        if box is not None and box != exc.box:
            raise SchemaViolation(exc.detail, box=box) from None
        raise


def _sharper_box(
    element: etree._Element, schema: etree.XMLSchema, box_of: dict[str, str], detail: str
) -> str | None:
    err = schema.error_log.last_error
    if err is None or err.message not in detail:  # not the error xmlio reported
        return None
    expected = _EXPECTED_RE.search(err.message)
    if expected:
        names = [n.strip().rpartition("}")[2] for n in expected.group(1).split(",")]
        for name in reversed(names):
            if name in box_of:
                return box_of[name]
    path = err.path or ""
    if path.startswith("/*"):
        rest = path[2:].lstrip("/")
        found = element.xpath(rest) if rest else [element]
        node = found[0] if found and isinstance(found[0], etree._Element) else None
        while node is not None:
            local = etree.QName(node).localname
            if local in box_of:
                return box_of[local]
            node = node.getparent()
    return None


def require_element(payload: Any, codec: str) -> etree._Element:
    """The payload of an XML codec must be a parsed element (see ``xmlio.parse_untrusted``)."""
    if not isinstance(payload, etree._Element):
        raise SchemaViolation(f"{codec} expects a parsed XML element, got {type(payload).__name__}")
    return payload


def _q(name: str, ns: str = AKSTD_NS) -> str:
    return f"{{{ns}}}{name}"


def _sub(parent: etree._Element, name: str, text: Any = None, **attrib: str) -> etree._Element:
    """A child in the parent's namespace (so one writer serves 1.0 and 1.1)."""
    el = etree.SubElement(parent, _q(name, etree.QName(parent).namespace or AKSTD_NS), attrib)
    if text is not None:
        el.text = text if isinstance(text, str) else _lexical(text)
    return el


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _opt(parent: etree._Element, name: str, value: Any) -> None:
    if value is not None:
        _sub(parent, name, value)


def _party(parent: etree._Element, name: str, party: dict[str, str]) -> None:
    el = _sub(parent, name)
    _sub(el, "Name", party["name"])
    _sub(el, "Address", party["address"])
    _sub(el, "CountryCode", party["country"])


class _Reader:
    """Reads text out of a validated akstd document into canonical JSON values."""

    def __init__(self, el: etree._Element) -> None:
        self.el = el
        self.ns = etree.QName(el).namespace or AKSTD_NS

    def _path(self, path: str) -> str:
        return "/".join(_q(p, self.ns) for p in path.split("/"))

    def node(self, path: str) -> _Reader | None:
        found = self.el.find(self._path(path))
        return None if found is None else _Reader(found)

    def nodes(self, name: str) -> list[_Reader]:
        return [_Reader(e) for e in self.el.findall(_q(name, self.ns))]

    def text(self, path: str) -> str | None:
        found = self.el.find(self._path(path))
        if found is None:
            return None
        return "".join(found.itertext())  # a comment inside the text must not cut it

    def token(self, path: str) -> str | None:
        """Text of an element whose XSD type collapses whitespace (dates, numbers, booleans)."""
        value = self.text(path)
        return None if value is None else value.strip()

    def integer(self, path: str, box: str) -> int | None:
        """xs:integer has no bound, int() has (4,300 digits): no box needs more than 18."""
        value = self.token(path)
        if value is not None and len(value.lstrip("+-0")) > 18:
            raise SchemaViolation(f"{path} has more than 18 digits", box=box)
        return None if value is None else int(value)

    def boolean(self, path: str) -> bool | None:
        value = self.token(path)
        return None if value is None else value in ("true", "1")

    def attr(self, path: str, name: str) -> str | None:
        found = self.el.find(self._path(path))
        return None if found is None else found.get(name)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _read_party(r: _Reader | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"name": r.text("Name"), "address": r.text("Address"), "country": r.text("CountryCode")}


class AkStdCodec:
    """e-Form AK standard 1.0 or 1.1 (XML) <-> canonical FormAK.

    Decodes either version (the root's namespace says which); encodes ``version``.
    """

    name: str = "akstd"
    kind: Literal["xml", "json"] = "xml"
    marker: str = AKSTD_ROOT

    def __init__(self, version: str = "1.0") -> None:
        if version not in NAMESPACES:
            raise ValueError(f"unknown e-Form AK standard version {version!r}")
        self.version = version
        self.carries = ALL_1_1 if version == "1.1" else frozenset()

    def at_version(self, version: str) -> AkStdCodec:
        """This codec writing ``version`` (reading stays both)."""
        return self if version == self.version else AkStdCodec(version)

    def recognizes(self, document: etree._Element | dict[str, Any]) -> bool:
        return isinstance(document, etree._Element) and document.tag in {
            _q("CertificateOfOrigin", ns) for ns in NAMESPACES.values()
        }

    # -- encode ---------------------------------------------------------------------------

    def encode(self, co: FormAK, data: dict[str, Any] | None = None) -> etree._Element:
        """``data``: ``co``'s canonical dict when the caller has made it already."""
        require_carried(co, f"e-Form AK {self.version}", self.carries)
        require_edition(co, self.version)
        v11 = self.version == "1.1"
        ns = NAMESPACES[self.version]
        d = canonical_to_dict(co) if data is None else data
        root = etree.Element(_q("CertificateOfOrigin", ns), nsmap={None: ns})
        _sub(root, "ID", d["reference_no"])
        _sub(root, "IssuingCountry", d["issuing_country"])
        _party(root, "Exporter", d["exporter"])
        _party(root, "Consignee", d["consignee"])
        if "exhibition_details" in d:
            _exhibition(root, d["exhibition_details"])
        self._encode_transport(root, d["transport"])
        for item in d["items"]:
            self._encode_item(root, item, d["hs_edition"])
        if "third_country_invoicer" in d:
            _party(root, "ThirdCountryInvoicer", d["third_country_invoicer"])
        dec = d["declaration"]
        de = _sub(root, "ExporterDeclaration")
        _sub(de, "ProductionCountryCode", dec["producing_country"])
        _sub(de, "ImportationCountryCode", dec["importing_country"])
        _sub(de, "SignatoryPlace", dec["place"])
        _sub(de, "SignatoryDate", dec["date"])
        _sub(de, "SignatoryName", dec["signatory_name"])
        _opt(de, "SignatoryTitle", dec.get("signatory_title"))
        cert = d["certification"]
        ce = _sub(root, "Certification")
        _sub(ce, "AuthorityID", cert["authority_id"])
        if v11:
            _opt(ce, "IssuingBody", cert.get("issuing_body"))
        _sub(ce, "AuthorityName", cert["authority_name"])
        _sub(ce, "IssuePlace", cert["place"])
        _sub(ce, "IssueDate", cert["issue_date"])
        _sub(ce, "OfficerName", cert["officer_name"])
        _opt(ce, "SealID", cert.get("seal_id"))
        _sub(ce, "ElectronicSignatureIndicator", cert["signed_electronically"])
        _sub(root, "ThirdCountryInvoicingIndicator", d["third_country_invoicing"])
        _sub(root, "ExhibitionIndicator", d["exhibition"])
        _sub(root, "BackToBackIndicator", d["back_to_back"])
        _sub(root, "IssuedRetroactivelyIndicator", d["issued_retroactively"])
        _sub(root, "CertifiedTrueCopyIndicator", d["certified_true_copy"])
        if "original_certificate" in d:
            oc = d["original_certificate"]
            oe = _sub(root, "OriginalCertificate")
            _sub(oe, "ID", oc["reference_no"])
            _sub(oe, "IssueDate", oc["issue_date"])
            _opt(oe, "IssuingCountry", oc.get("issuing_country"))
        _opt(root, "ReplacesReference", d.get("replaces_reference_no"))
        _opt(root, "OriginalIssueDate", d.get("original_issue_date"))
        _opt(root, "Remarks", d.get("remarks"))
        return root

    def _encode_transport(self, root: etree._Element, t: dict[str, Any]) -> None:
        tr = _sub(root, "Transport")
        _opt(tr, "DepartureDate", t.get("departure_date"))
        if self.version == "1.0":
            _opt(tr, "TransportMeansName", t.get("vessel"))
            _opt(tr, "LoadingLocation", t.get("port_of_loading"))
            _opt(tr, "UnloadingLocation", t.get("port_of_discharge"))
            return
        _opt(tr, "ModeCode", t.get("mode"))
        _opt(tr, "TransportMeansName", t.get("vessel"))
        for name, port in (
            ("LoadingLocation", t.get("port_of_loading")),
            ("UnloadingLocation", t.get("port_of_discharge")),
            *(("TransitLocation", p) for p in t.get("transit_ports", ())),
        ):
            if port is not None:
                _sub(_sub(tr, name), "ID" if _LOCODE_RE.match(port) else "Name", port)
        _opt(tr, "RouteDescription", t.get("route"))
        if "document_no" in t or "document_date" in t:
            doc = _sub(tr, "TransportDocument")
            _opt(doc, "ID", t.get("document_no"))
            _opt(doc, "IssueDate", t.get("document_date"))

    def _encode_item(self, root: etree._Element, item: dict[str, Any], edition: str) -> None:
        el = _sub(root, "GoodsItem")
        _sub(el, "SequenceNumeric", item["item_no"])
        _sub(el, "ShippingMarks", item["marks"])
        pk = _sub(el, "Packaging")
        _sub(pk, "QuantityQuantity", item["package_count"])
        _sub(pk, "TypeCode", item["package_type"])
        _sub(el, "Description", item["description"])
        cl = _sub(el, "Classification")
        _sub(cl, "ID", item["hs_code"])
        _sub(cl, "EditionCode", edition)
        _opt(cl, "NationalTariffCode", item.get("national_tariff_code"))
        origin = item["origin"]
        oc = _sub(el, "OriginCriterion")
        _sub(oc, "Kind", origin["kind"])
        _opt(oc, "RVCPercent", origin.get("rvc_percent"))
        _opt(oc, "CTCLevel", origin.get("ctc_level"))
        if "gross_weight" in item:
            gw = item["gross_weight"]
            _sub(el, "GrossWeight", gw["value"], unitCode=gw["unit"])
        if "quantity" in item:
            _sub(el, "Quantity", item["quantity"]["value"], unitCode=item["quantity"]["unit"])
        if "fob" in item:
            _sub(el, "FOBValue", item["fob"]["amount"], currencyID=item["fob"]["currency"])
        for inv in item["invoices"]:
            ie = _sub(el, "Invoice")
            _sub(ie, "ID", inv["number"])
            _sub(ie, "IssueDate", inv["date"])
            if "issuer" in inv:
                issuer = _sub(ie, "Issuer")
                _sub(issuer, "Name", inv["issuer"]["name"])
                _sub(issuer, "CountryCode", inv["issuer"]["country"])

    # -- decode ---------------------------------------------------------------------------

    def decode(self, payload: etree._Element | dict[str, Any]) -> FormAK:
        return canonical_from_dict(self.read(payload))

    def read(self, payload: etree._Element | dict[str, Any]) -> dict[str, Any]:
        """Validate against the version's XSD; the canonical dict, before the model's checks."""
        root = require_element(payload, self.name)
        version = VERSION_OF.get(etree.QName(root).namespace or "", "1.0")
        validate_with_boxes(root, XSD_OF[version], BOX_OF)
        r = _Reader(root)
        d: dict[str, Any] = {
            "reference_no": r.text("ID"),
            "issuing_country": r.text("IssuingCountry"),
            "exporter": _read_party(r.node("Exporter")),
            "consignee": _read_party(r.node("Consignee")),
        }
        _put(d, "exhibition_details", _read_exhibition(r.node("Exhibition")))
        d["transport"] = _read_transport(r)
        items = [self._decode_item(i) for i in r.nodes("GoodsItem")]
        editions = {i.token("Classification/EditionCode") for i in r.nodes("GoodsItem")}
        if len(editions) != 1:
            raise SchemaViolation(
                f"all goods items must use one HS edition, found {sorted(editions)}", box="7"
            )
        d["hs_edition"] = editions.pop()
        d["items"] = items
        _put(d, "third_country_invoicer", _read_party(r.node("ThirdCountryInvoicer")))
        dec: dict[str, Any] = {
            "producing_country": r.text("ExporterDeclaration/ProductionCountryCode"),
            "importing_country": r.text("ExporterDeclaration/ImportationCountryCode"),
            "place": r.text("ExporterDeclaration/SignatoryPlace"),
            "date": r.token("ExporterDeclaration/SignatoryDate"),
            "signatory_name": r.text("ExporterDeclaration/SignatoryName"),
        }
        _put(dec, "signatory_title", r.text("ExporterDeclaration/SignatoryTitle"))
        d["declaration"] = dec
        cert: dict[str, Any] = {
            "authority_id": r.text("Certification/AuthorityID"),
            "authority_name": r.text("Certification/AuthorityName"),
            "place": r.text("Certification/IssuePlace"),
            "issue_date": r.token("Certification/IssueDate"),
            "officer_name": r.text("Certification/OfficerName"),
            "signed_electronically": r.boolean("Certification/ElectronicSignatureIndicator"),
        }
        _put(cert, "seal_id", r.text("Certification/SealID"))
        _put(cert, "issuing_body", r.token("Certification/IssuingBody"))
        d["certification"] = cert
        d["third_country_invoicing"] = r.boolean("ThirdCountryInvoicingIndicator")
        d["exhibition"] = r.boolean("ExhibitionIndicator")
        d["back_to_back"] = r.boolean("BackToBackIndicator")
        d["issued_retroactively"] = r.boolean("IssuedRetroactivelyIndicator")
        d["certified_true_copy"] = r.boolean("CertifiedTrueCopyIndicator")
        original = r.node("OriginalCertificate")
        if original is not None:
            oc: dict[str, Any] = {
                "reference_no": original.text("ID"),
                "issue_date": original.token("IssueDate"),
            }
            _put(oc, "issuing_country", original.text("IssuingCountry"))
            d["original_certificate"] = oc
        _put(d, "replaces_reference_no", r.text("ReplacesReference"))
        _put(d, "original_issue_date", r.token("OriginalIssueDate"))
        _put(d, "remarks", r.text("Remarks"))
        return d

    @staticmethod
    def _decode_item(r: _Reader) -> dict[str, Any]:
        origin: dict[str, Any] = {"kind": r.token("OriginCriterion/Kind")}
        _put(origin, "rvc_percent", r.token("OriginCriterion/RVCPercent"))
        _put(origin, "ctc_level", r.token("OriginCriterion/CTCLevel"))
        item: dict[str, Any] = {
            "item_no": r.integer("SequenceNumeric", "5"),
            "marks": r.text("ShippingMarks"),
            "package_count": r.integer("Packaging/QuantityQuantity", "7"),
            "package_type": r.text("Packaging/TypeCode"),
            "description": r.text("Description"),
            "hs_code": r.text("Classification/ID"),
            "origin": origin,
        }
        _put(item, "national_tariff_code", r.token("Classification/NationalTariffCode"))
        for key, name in (("gross_weight", "GrossWeight"), ("quantity", "Quantity")):
            if r.node(name) is not None:
                item[key] = {"value": r.token(name), "unit": r.attr(name, "unitCode")}
        if r.node("FOBValue") is not None:
            item["fob"] = {
                "amount": r.token("FOBValue"),
                "currency": r.attr("FOBValue", "currencyID"),
            }
        item["invoices"] = [_read_invoice(i) for i in r.nodes("Invoice")]
        return item


def _exhibition(root: etree._Element, ex: dict[str, Any]) -> None:
    el = _sub(root, "Exhibition")
    _sub(el, "Name", ex["name"])
    _sub(el, "Address", ex["address"])
    _sub(el, "CountryCode", ex["country"])
    _opt(el, "StartDate", ex.get("start_date"))
    _opt(el, "EndDate", ex.get("end_date"))
    _opt(el, "BuyerName", ex.get("buyer"))


def _read_exhibition(r: _Reader | None) -> dict[str, Any] | None:
    if r is None:
        return None
    ex: dict[str, Any] = {
        "name": r.text("Name"),
        "address": r.text("Address"),
        "country": r.text("CountryCode"),
    }
    _put(ex, "start_date", r.token("StartDate"))
    _put(ex, "end_date", r.token("EndDate"))
    _put(ex, "buyer", r.text("BuyerName"))
    return ex


def _port(r: _Reader | None) -> str | None:
    """1.0: the element's text; 1.1: its UN/LOCODE or, failing one, its name."""
    if r is None:
        return None
    if r.ns == AKSTD_NS:
        return "".join(r.el.itertext())
    return r.token("ID") or r.text("Name")


def _read_transport(r: _Reader) -> dict[str, Any]:
    t: dict[str, Any] = {}
    _put(t, "departure_date", r.token("Transport/DepartureDate"))
    _put(t, "vessel", r.text("Transport/TransportMeansName"))
    _put(t, "port_of_loading", _port(r.node("Transport/LoadingLocation")))
    _put(t, "port_of_discharge", _port(r.node("Transport/UnloadingLocation")))
    _put(t, "mode", r.token("Transport/ModeCode"))
    _put(t, "route", r.text("Transport/RouteDescription"))
    transport = r.node("Transport")
    transit = [_port(p) for p in transport.nodes("TransitLocation")] if transport else []
    if transit:
        t["transit_ports"] = transit
    _put(t, "document_no", r.text("Transport/TransportDocument/ID"))
    _put(t, "document_date", r.token("Transport/TransportDocument/IssueDate"))
    return t


def _read_invoice(r: _Reader) -> dict[str, Any]:
    inv: dict[str, Any] = {"number": r.text("ID"), "date": r.token("IssueDate")}
    issuer = r.node("Issuer")
    if issuer is not None:
        inv["issuer"] = {"name": issuer.text("Name"), "country": issuer.text("CountryCode")}
    return inv
