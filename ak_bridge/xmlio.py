"""The one hardened XML parse path, and cached XSD loading from ``wsdl/``.

Every byte that arrives from outside goes through :func:`parse_untrusted`: no DTD, no
entities, no network, libxml2's default size and depth limits, so a hostile document is a
typed rejection rather than a crash or a leak (see stack-notes.md section 4).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from .errors import ForbiddenXml, MalformedXml, SchemaViolation

WSDL_DIR = Path(__file__).resolve().parent.parent / "wsdl"

NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_DSIG = "http://www.w3.org/2000/09/xmldsig#"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse bytes from outside; refuse DOCTYPEs, entities and anything not well-formed."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedXml("XML must arrive as bytes")
    if not data.strip():
        raise MalformedXml("empty document")
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        # libxml2 itself refuses nesting deeper than 256 and text nodes over 10 MB.
        raise MalformedXml(f"not well-formed XML: {exc.msg}") from None
    except (ValueError, LookupError) as exc:  # bad or unknown encoding declaration
        raise MalformedXml(f"undecodable XML: {exc}") from None
    if root is None:
        raise MalformedXml("empty document")
    if root.getroottree().docinfo.doctype:
        raise ForbiddenXml("DOCTYPE declarations are not allowed")
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise ForbiddenXml("entity references are not allowed")
    return root


@cache
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
