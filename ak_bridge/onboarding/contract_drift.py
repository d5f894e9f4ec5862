"""Contract drift: does a SOAP partner still serve the WSDL we call it with?

Why: the bridge calls a partner with the WSDL under ``wsdl/`` (never fetched), so when a
partner changes its contract nobody notices until the next delivery fails as a fault or a
schema error, possibly in a dead letter at night. Fetching the partner's ``?wsdl`` and
diffing it against ours turns that into an alert before the next send (peers.md (f) 11).

What is compared: the portType's operations, the target namespace, and every named element
of the types (as a path like ``MessageHeader/SenderId``, with its type and occurrence), which
covers the header element names, the submit request and the receipt. The service address is
not compared (every deployment has its own). A fetched WSDL is hostile input: it is parsed
only with :func:`ak_bridge.security.xmlio.parse_untrusted`, its size is capped, redirects are not
followed, and schemas it imports are never fetched (they are reported as a difference).

:func:`compare_wsdl` is pure; :func:`check_partner` is the one function doing I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

import requests
from lxml import etree

from ak_bridge.core.errors import ForbiddenXml, MalformedXml
from ak_bridge.core.settings import PartnerConfig
from ak_bridge.security.xmlio import parse_untrusted

__all__ = [
    "ContractState",
    "ContractStatus",
    "Difference",
    "WsdlUnavailable",
    "check_partner",
    "compare_wsdl",
    "fetch_wsdl",
    "wsdl_url",
]

NS_WSDL = "http://schemas.xmlsoap.org/wsdl/"
NS_XS = "http://www.w3.org/2001/XMLSchema"
MAX_WSDL_BYTES = 2 * 1024 * 1024  # ours are ~8 kB; anything this big is not a contract


@dataclass(frozen=True)
class Difference:
    """One way the partner's WSDL differs from ours, e.g. ``element removed: Header/SentAt``."""

    kind: str  # operation | element | namespace | import | document
    change: str  # added | removed | changed | unreadable
    name: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.kind} {self.change}: {self.name}"
        return f"{text} ({self.detail})" if self.detail else text

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "change": self.change, "name": self.name, "detail": self.detail}


class WsdlUnavailable(Exception):
    """The partner serves no WSDL: not reachable, not 2xx, or redirected elsewhere."""


# --------------------------------------------------------------------------- pure comparison


def _operations(root: etree._Element) -> set[str]:
    return {
        op.get("name", "") for op in root.iterfind(f"{{{NS_WSDL}}}portType/{{{NS_WSDL}}}operation")
    }


def _element_path(el: etree._Element) -> str:
    """Names of the enclosing named elements and complex types, then the element's own."""
    names = [el.get("name", "")]
    parent = el.getparent()
    while parent is not None and parent.tag != f"{{{NS_XS}}}schema":
        if parent.tag in (f"{{{NS_XS}}}element", f"{{{NS_XS}}}complexType") and parent.get("name"):
            names.append(parent.get("name", ""))
        parent = parent.getparent()
    return "/".join(reversed(names))


def _elements(root: etree._Element) -> dict[str, str]:
    """Every named element of the types: path -> "type, min..max" (what a change would break)."""
    out: dict[str, str] = {}
    for el in root.iterfind(f"{{{NS_WSDL}}}types//{{{NS_XS}}}element[@name]"):
        type_name = (el.get("type") or "anonymous").rsplit(":", 1)[-1]
        occurs = f"{el.get('minOccurs', '1')}..{el.get('maxOccurs', '1')}"
        out[_element_path(el)] = f"{type_name}, {occurs}"
    return out


def _imports(root: etree._Element) -> set[str]:
    return {
        el.get("schemaLocation") or el.get("location") or ""
        for el in root.iter(f"{{{NS_XS}}}import", f"{{{NS_XS}}}include", f"{{{NS_WSDL}}}import")
        if el.get("schemaLocation") or el.get("location")
    }


def _read(data: bytes, whose: str) -> etree._Element:
    root = parse_untrusted(data)
    if root.tag != f"{{{NS_WSDL}}}definitions":
        raise MalformedXml(f"{whose} document is not a WSDL 1.1 (root {root.tag})")
    return root


def compare_wsdl(ours: bytes, theirs: bytes) -> list[Difference]:
    """What changed from ``ours`` to ``theirs``; empty when the contract is the same.

    ``theirs`` that is not a readable WSDL is itself one difference (kind ``document``):
    a partner answering ``?wsdl`` with something else has drifted from the contract.
    """
    mine = _read(ours, "our")
    try:
        other = _read(theirs, "their")
    except (MalformedXml, ForbiddenXml) as exc:
        return [Difference("document", "unreadable", "WSDL", exc.detail)]
    diffs: list[Difference] = []
    ns_mine, ns_other = mine.get("targetNamespace", ""), other.get("targetNamespace", "")
    if ns_mine != ns_other:
        diffs.append(Difference("namespace", "changed", ns_other, f"ours is {ns_mine}"))
    ops_mine, ops_other = _operations(mine), _operations(other)
    diffs += [Difference("operation", "removed", n) for n in sorted(ops_mine - ops_other)]
    diffs += [Difference("operation", "added", n) for n in sorted(ops_other - ops_mine)]
    el_mine, el_other = _elements(mine), _elements(other)
    diffs += [Difference("element", "removed", p) for p in sorted(el_mine.keys() - el_other)]
    diffs += [Difference("element", "added", p) for p in sorted(el_other.keys() - el_mine)]
    diffs += [
        Difference("element", "changed", p, f"{el_mine[p]} -> {el_other[p]}")
        for p in sorted(el_mine.keys() & el_other.keys())
        if el_mine[p] != el_other[p]
    ]
    diffs += [
        Difference("import", "added", loc, "not fetched: external schemas are never read")
        for loc in sorted(_imports(other) - _imports(mine))
    ]
    return diffs


# --------------------------------------------------------------------------- fetching


def wsdl_url(endpoint: str) -> str:
    """``<endpoint>?wsdl`` (or ``&wsdl`` when the endpoint already has a query)."""
    parts = urlsplit(endpoint)
    query = f"{parts.query}&wsdl" if parts.query else "wsdl"
    return urlunsplit(parts._replace(query=query, fragment=""))


def fetch_wsdl(endpoint: str, timeout: float) -> bytes:
    """GET the partner's WSDL, at most :data:`MAX_WSDL_BYTES`; raise WsdlUnavailable."""
    url = wsdl_url(endpoint)
    try:
        with requests.get(
            url, timeout=(min(5.0, timeout), timeout), allow_redirects=False, stream=True
        ) as resp:
            if not 200 <= resp.status_code < 300:
                raise WsdlUnavailable(f"{url}: HTTP {resp.status_code}")
            body = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_WSDL_BYTES:
                    raise WsdlUnavailable(f"{url}: larger than {MAX_WSDL_BYTES} bytes")
            return bytes(body)
    except requests.RequestException as exc:
        raise WsdlUnavailable(f"{url}: {type(exc).__name__}") from None


# --------------------------------------------------------------------------- one partner


class ContractState(StrEnum):
    SAME = "same"
    DRIFTED = "drifted"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class ContractStatus:
    """The drift watch's answer for one SOAP partner."""

    partner: str
    url: str
    state: ContractState
    differences: tuple[Difference, ...] = ()
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "partner": self.partner,
            "url": self.url,
            "state": str(self.state),
            "differences": [d.as_dict() for d in self.differences],
            "detail": self.detail,
        }


def check_partner(partner: PartnerConfig) -> ContractStatus:
    """Fetch one SOAP partner's WSDL and compare it with ours (``PartnerConfig.wsdl``)."""
    if partner.wsdl is None:
        raise ValueError(f"{partner.id}: not a SOAP partner (no wsdl configured)")
    url = wsdl_url(partner.endpoint)
    try:
        theirs = fetch_wsdl(partner.endpoint, partner.timeout_seconds)
    except WsdlUnavailable as exc:
        return ContractStatus(partner.id, url, ContractState.UNREACHABLE, detail=str(exc))
    diffs = compare_wsdl(partner.wsdl.read_bytes(), theirs)
    state = ContractState.DRIFTED if diffs else ContractState.SAME
    return ContractStatus(partner.id, url, state, tuple(diffs))
