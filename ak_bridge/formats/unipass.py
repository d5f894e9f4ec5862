"""Codec for KCS UNI-PASS certificate-of-origin documents (``standard/kcs/unipass-co-1.0.xsd``).

Why a hand-written codec: Korea is one end of every exchange, and its format differs from the
agreed standard in ways a generic mapping should not have to express (the origin criterion is
one coded string such as ``CTH+RVC(40.00)``, the HS edition is a year). No public UNI-PASS
specification exists; the format here is our model of it, kept behind this one module so the
real one can replace it without touching anything else. It is lossless for every model field.

Decoding validates against the XSD, then loads through :mod:`ak_bridge.core.canonical`, so errors
always carry a box. Pure: no network, no clock.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from lxml import etree

from ak_bridge.core.canonical import canonical_from_dict, canonical_to_dict
from ak_bridge.core.errors import SchemaViolation
from ak_bridge.core.model import FormAK
from ak_bridge.formats.akstd import require_element, validate_with_boxes
from ak_bridge.formats.xml_children import Children, text_of

__all__ = [
    "UNIPASS_NS",
    "UNIPASS_ROOT",
    "UNIPASS_XSD",
    "UnipassCodec",
    "format_criterion",
    "parse_criterion",
]

UNIPASS_NS = "urn:kcs:unipass:co:1"
UNIPASS_ROOT = f"{{{UNIPASS_NS}}}KcsCoDoc"
UNIPASS_XSD = "kcs/unipass-co-1.0.xsd"

Conv = Literal["str", "date", "yn", "int", "hs_edition"]

# (element, canonical dotted path, converter, box) in XSD order, before CoItemList.
_HEADER: tuple[tuple[str, str, Conv, str], ...] = (
    ("CoNo", "reference_no", "str", "header"),
    ("IsuNatCd", "issuing_country", "str", "header"),
    ("HsEdtnYy", "hs_edition", "hs_edition", "7"),
    ("RplcCoNo", "replaces_reference_no", "str", "header"),
    ("FrstIsuDt", "original_issue_date", "date", "header"),
    ("OrgnCoNo", "original_certificate.reference_no", "str", "7"),
    ("OrgnCoIsuDt", "original_certificate.issue_date", "date", "7"),
    ("OrgnCoIsuNatCd", "original_certificate.issuing_country", "str", "7"),
    ("RmkCn", "remarks", "str", "header"),
    ("ExpterNm", "exporter.name", "str", "1"),
    ("ExpterAddr", "exporter.address", "str", "1"),
    ("ExpterNatCd", "exporter.country", "str", "1"),
    ("CnsgeNm", "consignee.name", "str", "2"),
    ("CnsgeAddr", "consignee.address", "str", "2"),
    ("CnsgeNatCd", "consignee.country", "str", "2"),
    ("ThrdInvcrNm", "third_country_invoicer.name", "str", "7"),
    ("ThrdInvcrAddr", "third_country_invoicer.address", "str", "7"),
    ("ThrdInvcrNatCd", "third_country_invoicer.country", "str", "7"),
    ("DptrDt", "transport.departure_date", "date", "3"),
    ("TrnspMnsNm", "transport.vessel", "str", "3"),
    ("LdngPortNm", "transport.port_of_loading", "str", "3"),
    ("DschgPortNm", "transport.port_of_discharge", "str", "3"),
    ("ThrdCntrInvcYn", "third_country_invoicing", "yn", "13"),
    ("ExhbtnYn", "exhibition", "yn", "13"),
    ("BtbCoYn", "back_to_back", "yn", "13"),
    ("RtrctvIsuYn", "issued_retroactively", "yn", "marking"),
    ("CrtfdTrueCpYn", "certified_true_copy", "yn", "marking"),
    ("DclrPrdnNatCd", "declaration.producing_country", "str", "11"),
    ("DclrImpNatCd", "declaration.importing_country", "str", "11"),
    ("DclrPlcNm", "declaration.place", "str", "11"),
    ("DclrDt", "declaration.date", "date", "11"),
    ("DclrSgnrNm", "declaration.signatory_name", "str", "11"),
    ("DclrSgnrJbttlNm", "declaration.signatory_title", "str", "11"),
    ("IsuOrgCd", "certification.authority_id", "str", "12"),
    ("IsuOrgNm", "certification.authority_name", "str", "12"),
    ("IsuPlcNm", "certification.place", "str", "12"),
    ("IsuDt", "certification.issue_date", "date", "12"),
    ("IsuOfcrNm", "certification.officer_name", "str", "12"),
    ("SealNo", "certification.seal_id", "str", "12"),
    ("ElctSgnYn", "certification.signed_electronically", "yn", "12"),
)

# Per CoItem, in XSD order; OrgnCrtrCd and InvcList are handled on their own.
_ITEM_BEFORE_ORIGIN: tuple[tuple[str, str, Conv, str], ...] = (
    ("ItemSn", "item_no", "int", "5"),
    ("ShpMrkCn", "marks", "str", "6"),
    ("PckgCnt", "package_count", "int", "7"),
    ("PckgTpCd", "package_type", "str", "7"),
    ("GdsDesc", "description", "str", "7"),
    ("HsSgn", "hs_code", "str", "7"),
)
_ITEM_AFTER_ORIGIN: tuple[tuple[str, str, Conv, str], ...] = (
    ("GrsWght", "gross_weight.value", "str", "9"),
    ("GrsWghtUtCd", "gross_weight.unit", "str", "9"),
    ("Qty", "quantity.value", "str", "7"),
    ("QtyUtCd", "quantity.unit", "str", "7"),
    ("FobAmt", "fob.amount", "str", "9"),
    ("FobCurCd", "fob.currency", "str", "9"),
)

BOX_OF: dict[str, str] = {
    name: box for name, _, _, box in (*_HEADER, *_ITEM_BEFORE_ORIGIN, *_ITEM_AFTER_ORIGIN)
} | {
    "FtaCd": "header",
    "CoFormCd": "header",
    "OrgnCrtrCd": "8",
    "CoItemList": "5",
    "CoItem": "5",
    "InvcList": "10",
    "Invc": "10",
    "InvcNo": "10",
    "InvcDt": "10",
}

_CRITERION_RE = re.compile(
    r"^(?P<kind>WO-AK|WO|CTH\+RVC|CTC\+RVC|CTH|CTC|RVC|SP)"
    r"(?:\((?:(?P<level>CC|CTSH|CTH)(?:,(?P<pct1>[0-9]{1,3}(?:\.[0-9]+)?))?"
    r"|(?P<pct2>[0-9]{1,3}(?:\.[0-9]+)?))\))?$"
)


def format_criterion(origin: dict[str, Any]) -> str:
    """Canonical origin dict -> UNI-PASS code, e.g. ``CTC+RVC(CTSH,45.00)``."""
    args = [a for a in (origin.get("ctc_level"), origin.get("rvc_percent")) if a is not None]
    return origin["kind"] + (f"({','.join(args)})" if args else "")


def parse_criterion(code: str) -> dict[str, Any]:
    """UNI-PASS origin criterion code -> canonical origin dict (box 8 on failure)."""
    match = _CRITERION_RE.match(code.strip())
    if match is None:
        raise SchemaViolation(f"origin criterion code {code!r} is not recognised", box="8")
    origin: dict[str, Any] = {"kind": match["kind"]}
    if match["level"]:
        origin["ctc_level"] = match["level"]
    pct = match["pct1"] or match["pct2"]
    if pct:
        origin["rvc_percent"] = pct
    return origin


def _q(name: str) -> str:
    return f"{{{UNIPASS_NS}}}{name}"


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _to_wire(value: Any, conv: Conv) -> str:
    if conv == "date":
        return value.replace("-", "")
    if conv == "yn":
        return "Y" if value else "N"
    if conv == "hs_edition":
        return value.removeprefix("HS")
    return str(value)


def _from_wire(text: str, conv: Conv, box: str, element: str) -> Any:
    if conv == "date":
        return f"{text[:4]}-{text[4:6]}-{text[6:8]}"  # the schema then checks it is a real day
    if conv == "yn":
        return text == "Y"
    if conv == "int":
        try:
            return int(text)
        except ValueError:  # pragma: no cover - the XSD pattern allows digits only
            raise SchemaViolation(f"{element}: {text!r} is not a number", box=box) from None
    if conv == "hs_edition":
        return f"HS{text}"
    return text


def _emit(
    parent: etree._Element, data: dict[str, Any], table: tuple[tuple[str, str, Conv, str], ...]
) -> None:
    for element, path, conv, _box in table:
        value = _get(data, path)
        if value is not None:
            etree.SubElement(parent, _q(element)).text = _to_wire(value, conv)


def _absorb(
    el: etree._Element, target: dict[str, Any], table: tuple[tuple[str, str, Conv, str], ...]
) -> None:
    kids = Children().of(el)  # one pass over the children, not a find per element
    for element, path, conv, box in table:
        found = kids.get(_q(element))
        if found is not None:
            _set(target, path, _from_wire(text_of(found), conv, box, element))


class UnipassCodec:
    """KCS UNI-PASS ``KcsCoDoc`` (XML) <-> canonical FormAK."""

    name: str = "unipass"
    kind: Literal["xml", "json"] = "xml"
    marker: str = UNIPASS_ROOT

    def recognizes(self, document: etree._Element | dict[str, Any]) -> bool:
        return isinstance(document, etree._Element) and document.tag == UNIPASS_ROOT

    def encode(self, co: FormAK, data: dict[str, Any] | None = None) -> etree._Element:
        """``data``: ``co``'s canonical dict when the caller has made it already."""
        d = canonical_to_dict(co) if data is None else data
        root = etree.Element(UNIPASS_ROOT, nsmap={None: UNIPASS_NS})
        etree.SubElement(root, _q("FtaCd")).text = "AKFTA"
        etree.SubElement(root, _q("CoFormCd")).text = "AK"
        _emit(root, d, _HEADER)
        items = etree.SubElement(root, _q("CoItemList"))
        for item in d["items"]:
            el = etree.SubElement(items, _q("CoItem"))
            _emit(el, item, _ITEM_BEFORE_ORIGIN)
            etree.SubElement(el, _q("OrgnCrtrCd")).text = format_criterion(item["origin"])
            _emit(el, item, _ITEM_AFTER_ORIGIN)
            if item["invoices"]:
                invoices = etree.SubElement(el, _q("InvcList"))
                for inv in item["invoices"]:
                    ie = etree.SubElement(invoices, _q("Invc"))
                    etree.SubElement(ie, _q("InvcNo")).text = inv["number"]
                    etree.SubElement(ie, _q("InvcDt")).text = _to_wire(inv["date"], "date")
        return root

    def decode(self, payload: etree._Element | dict[str, Any]) -> FormAK:
        return canonical_from_dict(self.read(payload))

    def read(self, payload: etree._Element | dict[str, Any]) -> dict[str, Any]:
        """Validate against the UNI-PASS XSD; the canonical dict, before the model's checks."""
        root = require_element(payload, self.name)
        validate_with_boxes(root, UNIPASS_XSD, BOX_OF)
        d: dict[str, Any] = {"transport": {}}
        _absorb(root, d, _HEADER)
        d["items"] = []
        for el in root.iterfind(f"{_q('CoItemList')}/{_q('CoItem')}"):
            item: dict[str, Any] = {}
            _absorb(el, item, _ITEM_BEFORE_ORIGIN)
            item["origin"] = parse_criterion("".join(el.find(_q("OrgnCrtrCd")).itertext()))
            _absorb(el, item, _ITEM_AFTER_ORIGIN)
            item["invoices"] = [
                {
                    "number": "".join(inv.find(_q("InvcNo")).itertext()),
                    "date": _from_wire(
                        "".join(inv.find(_q("InvcDt")).itertext()), "date", "10", "InvcDt"
                    ),
                }
                for inv in el.iterfind(f"{_q('InvcList')}/{_q('Invc')}")
            ]
            d["items"].append(item)
        return d
