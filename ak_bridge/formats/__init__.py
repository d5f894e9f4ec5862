"""Wire formats: each codec translates one partner format to and from the canonical FormAK.

Why a package of codecs behind one Protocol: the exchange core must not care which format a
partner speaks. Two codecs are code because they are ours or Korea's (``akstd``, the agreed
e-Form AK standard; ``unipass``, KCS UNI-PASS); every ASEAN national format is a mapping file
under ``config/formats/`` run by the generic :class:`~ak_bridge.formats.mapped.MappedCodec`,
so a new country needs a TOML file, not Python.

Contract of every codec:

* ``decode`` validates first (XSD, mapping, canonical schema) and raises
  :class:`~ak_bridge.core.errors.SchemaViolation` (or ``TranslationFailed``) naming the Form AK box;
* ``encode`` raises ``TranslationFailed`` with the box when the target cannot carry a value;
* ``decode(encode(co)) == co`` for every valid ``co`` the format can carry.

Pure: no network, no clock, no Flask. The config loader reads the TOML; this package only
receives the parsed dicts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from lxml import etree

from ak_bridge.core.canonical import canonical_from_dict, canonical_to_dict
from ak_bridge.core.errors import ConfigError, SchemaViolation, TranslationFailed
from ak_bridge.core.model import FormAK
from ak_bridge.core.versions import negotiate, require_carried
from ak_bridge.formats.akstd import AkStdCodec
from ak_bridge.formats.mapped import MappedCodec
from ak_bridge.formats.unipass import UnipassCodec
from ak_bridge.security import xmlio

__all__ = [
    "AkStdCodec",
    "Codec",
    "MappedCodec",
    "UnipassCodec",
    "build_codecs",
    "detect_format",
    "parse_document",
]

Document = etree._Element | dict[str, Any]


@runtime_checkable
class Codec(Protocol):
    """One wire format of a Form AK."""

    name: str
    kind: Literal["xml", "json"]
    marker: str  # XML: the root's Clark QName; JSON: "key=value" of the marker key

    def recognizes(self, document: Document) -> bool:
        """Whether a parsed document is in this format (root QName or JSON marker key)."""
        ...

    def decode(self, payload: Document) -> FormAK:
        """Validate and translate; an XML codec takes an element, a JSON codec a dict."""
        ...

    def read(self, payload: Document) -> dict[str, Any]:
        """``decode`` up to the canonical dict: the format's checks, not yet the model's."""
        ...

    def encode(self, co: FormAK, data: dict[str, Any] | None = None) -> Document:
        """Translate the canonical certificate (``data``: its canonical dict, if made)."""
        ...


def build_codecs(mappings: Mapping[str, Mapping[str, Any]]) -> dict[str, Codec]:
    """``akstd``, ``unipass`` and one MappedCodec per mapping (name -> parsed TOML dict).

    Raises ``ConfigError`` for a bad mapping, a name taken by a built-in codec, or two formats
    that would be recognised by the same marker.
    """
    codecs: dict[str, Codec] = {"akstd": AkStdCodec(), "unipass": UnipassCodec()}
    markers: dict[str, str] = {c.marker: name for name, c in codecs.items()}
    for name, mapping in mappings.items():
        source = f"config/formats/{name}.toml"
        if name in codecs:
            raise ConfigError(source, "format", f"{name!r} is the name of a built-in codec")
        codec = MappedCodec(name, mapping, source=source)
        if codec.marker in markers:
            raise ConfigError(
                source,
                "format",
                f"marker {codec.marker} is already used by {markers[codec.marker]}",
            )
        markers[codec.marker] = name
        codecs[name] = codec
    return codecs


def encode_for(codec: Codec, co: FormAK, data: dict[str, Any] | None = None) -> Document:
    """Encode for a destination, checked there and then: a receipt means deliverable.

    The destination's own decode (its XSD or mapping, then the canonical schema) must take
    what we would send. If it cannot (a package count of 10 digits where UNI-PASS allows 9,
    a character its XML cannot carry), the sender is refused now, naming the box, instead of
    holding a receipt for a certificate that the partner would refuse on delivery.
    A value of standard 1.1 the format cannot hold is ``version_not_lossless`` (a codec
    without a ``carries`` set carries none: the national formats and UNI-PASS).

    The check costs one ``read`` and a dict comparison: when the destination reads back the
    very dict the certificate dumps to, the canonical schema has nothing new to judge (that
    dict loads to ``co``), so only a dict that came back different is loaded again.
    """
    require_carried(co, f"the destination's format ({codec.name})", getattr(codec, "carries", ()))
    data = canonical_to_dict(co) if data is None else data  # ``data``: co's, if dumped already
    document = codec.encode(co, data)
    try:
        back = codec.read(copy.deepcopy(document) if isinstance(document, dict) else document)
        if back != data:
            canonical_from_dict(back)
    except SchemaViolation as exc:
        raise TranslationFailed(
            f"the destination's format ({codec.name}) cannot carry this certificate: {exc.detail}",
            box=exc.box,
        ) from None
    return document


def for_versions(codec: Codec, versions: Sequence[str]) -> Codec:
    """The codec writing the highest standard version both the bridge and a partner speak
    (only the agreed standard has versions; a national format is what its mapping says)."""
    at_version = getattr(codec, "at_version", None)
    return at_version(negotiate(versions)) if at_version else codec


def parse_document(payload: bytes) -> Document:
    """Parse untrusted bytes as JSON (if they start with ``{`` or ``[``) or hardened XML."""
    head = bytes(payload).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        try:
            document = json.loads(head.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise SchemaViolation(f"not well-formed JSON: {exc}") from None
        if not isinstance(document, dict):
            raise SchemaViolation("a JSON document must be an object")
        return document
    return xmlio.parse_untrusted(bytes(payload))


def detect_format(payload: bytes | Document, codecs: Mapping[str, Codec]) -> str:
    """The name of the codec whose format ``payload`` is in (root QName or JSON marker).

    Accepts raw bytes (parsed with :func:`parse_document`) or an already parsed document.
    Raises ``SchemaViolation`` when no codec recognises it.
    """
    document = parse_document(payload) if isinstance(payload, bytes | bytearray) else payload
    for name, codec in codecs.items():
        if codec.recognizes(document):
            return name
    if isinstance(document, dict):
        raise SchemaViolation(
            f"unknown JSON document format (keys: {', '.join(sorted(document)[:8])})"
        )
    raise SchemaViolation(f"unknown XML document format (root {document.tag})")
