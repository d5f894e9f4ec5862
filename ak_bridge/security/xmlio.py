"""The one hardened XML parse path, and cached XSD loading from ``wsdl/``.

Every byte that arrives from outside goes through :func:`parse_untrusted`: no DTD, no
entities, no network, libxml2's default size and depth limits, so a hostile document is a
typed rejection rather than a crash or a leak (see stack-notes.md section 4).

What is refused, and as what (tests/hostile/ holds one file per case):

* ``forbidden_xml``: a DOCTYPE (even when libxml2 gives up on its entities first, as with
  billion laughs), an entity reference, a processing instruction anywhere (``<?xml-stylesheet
  ?>`` and friends mean something to *other* tools), an XInclude element;
* ``malformed_xml``: anything not well-formed, an undecodable or wrong encoding declaration,
  UTF-16/UTF-32 without the byte order mark the XML spec requires (libxml2 would guess).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import TypeVar

from lxml import etree

from ak_bridge.core.errors import ForbiddenXml, MalformedXml, SchemaViolation
from ak_bridge.standard import WSDL_DIR

NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_DSIG = "http://www.w3.org/2000/09/xmldsig#"


def hardened_parser() -> etree.XMLParser:
    """No entities, no DTD, no network, libxml2's size and depth limits."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


NS_XINCLUDE = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")
_XINCLUDE_TAGS = tuple(f"{{{ns}}}" for ns in NS_XINCLUDE)

# UTF-16 / UTF-32 without a byte order mark: the XML spec requires the BOM for UTF-16, and
# a document whose encoding has to be guessed is not one we sign for or translate.
_BOMLESS_WIDE = (b"<\x00", b"\x00<", b"\x00\x00\x00<", b"\x00\x00<\x00", b"\x00<\x00\x00")


class _DoctypeSeen(Exception):
    """Raised from a parser target at ``<!DOCTYPE``, before any entity is declared."""


class _DoctypeProbe:
    """A parser target that only notices a DOCTYPE (lxml calls ``doctype`` at its start)."""

    def doctype(self, *_: object) -> None:
        raise _DoctypeSeen

    def start(self, *_: object) -> None: ...

    def end(self, *_: object) -> None: ...

    def data(self, *_: object) -> None: ...

    def close(self) -> None: ...


def _has_doctype(data: bytes) -> bool:
    """Whether a document that libxml2 refused had a DOCTYPE before the point of failure.

    Billion laughs, quadratic blowup and ``%pe;`` tricks make libxml2 fail *inside* the
    DTD, so the tree is never built and ``docinfo`` cannot be asked: the hostile part is
    the DOCTYPE, and the code must say so (forbidden_xml, not malformed_xml).
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        target=_DoctypeProbe(),
    )
    try:
        etree.fromstring(data, parser)
    except _DoctypeSeen:
        return True
    except (etree.Error, ValueError, LookupError):
        return False
    return False


def _refuse_tricks(root: etree._Element) -> None:
    """Entities, processing instructions and XInclude, in the tree or around the root."""
    outside = [*root.itersiblings(preceding=True), *root.itersiblings()]
    for node in [*outside, *root.iter()]:
        if isinstance(node, etree._Entity):
            raise ForbiddenXml("entity references are not allowed")
        if isinstance(node, etree._ProcessingInstruction):
            raise ForbiddenXml(f"processing instructions are not allowed (<?{node.target}?>)")
        if isinstance(node.tag, str) and node.tag.startswith(_XINCLUDE_TAGS):
            raise ForbiddenXml("XInclude elements are not allowed")


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse bytes from outside; refuse DOCTYPEs, entities and anything not well-formed."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedXml("XML must arrive as bytes")
    data = bytes(data)
    if not data.strip():
        raise MalformedXml("empty document")
    if data.startswith(_BOMLESS_WIDE):
        raise MalformedXml("UTF-16 or UTF-32 without a byte order mark")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        if _has_doctype(data):
            raise ForbiddenXml("DOCTYPE declarations are not allowed") from None
        # libxml2 itself refuses nesting deeper than 256 and text nodes over 10 MB.
        raise MalformedXml(f"not well-formed XML: {exc.msg}") from None
    except (ValueError, LookupError) as exc:  # bad or unknown encoding declaration
        raise MalformedXml(f"undecodable XML: {exc}") from None
    if root is None:
        raise MalformedXml("empty document")
    if root.getroottree().docinfo.doctype:
        raise ForbiddenXml("DOCTYPE declarations are not allowed")
    _refuse_tricks(root)
    return root


_SCHEMA_BUILD = threading.Lock()
_Built = TypeVar("_Built")


def built_once(build: Callable[[str], _Built]) -> Callable[[str], _Built]:
    """``functools.cache`` for schemas, built under one lock. libxml2 sets up its built-in
    schema types on the first schema it parses, and two threads parsing schemas then fail
    with XMLSchemaParseError; a fresh gunicorn worker's threads answering their first
    requests together did (tests/test_schema_threads.py)."""
    cached = cache(build)

    @wraps(build)
    def get(key: str) -> _Built:
        with _SCHEMA_BUILD:
            return cached(key)

    return get


@built_once
def load_schema(relative_path: str) -> etree.XMLSchema:
    """Load and cache an XSD from ``wsdl/`` (never from the network)."""
    path = WSDL_DIR / relative_path
    doc = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
    return etree.XMLSchema(doc)


def validate(
    element: etree._Element, schema_path: str, box_of: dict[str, str] | None = None
) -> None:
    """Validate against an XSD; the first error names its box through ``box_of``.

    ``box_of`` maps an element's local name to the Form AK box it belongs to, so that
    "FobValue is missing" becomes an error about box 9.
    """
    schema = load_schema(schema_path)
    try:
        ok = schema.validate(element)
    except etree.Error as exc:
        raise SchemaViolation(f"schema validation failed: {exc}") from None
    if ok:
        return
    err = schema.error_log.last_error
    box = None
    if box_of and err is not None:
        for name, b in box_of.items():
            if f"}}{name}'" in err.message or f"'{name}'" in err.message:
                box = b
                break
        if box is None and err.path:
            for part in reversed(err.path.split("/")):
                local = part.split(":")[-1].split("[")[0]
                if local in box_of:
                    box = box_of[local]
                    break
    msg = err.message if err is not None else "document does not match its schema"
    raise SchemaViolation(f"{schema_path}: {msg}", box=box)


def to_bytes(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")
