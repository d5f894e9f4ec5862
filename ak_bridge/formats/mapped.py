"""A generic, declarative codec: an ASEAN Party's national CO format is a mapping, not code.

Why: there are ten ASEAN national systems and each has its own element names, date style,
yes/no tokens and criterion codes, but the same Form AK boxes. Writing a codec per country
would put ten copies of the same logic in the core; a mapping file under
``config/formats/<name>.toml`` says only what differs. The mapping is checked when the codec
is built (``ConfigError(source, key, problem)``), so a bad file stops start-up instead of
failing on the first certificate.

How it works: a document is translated to and from the *canonical dict* of
:mod:`ak_bridge.core.canonical` (ISO dates, decimal strings, enum values); converters handle the
national spelling, and :func:`~ak_bridge.core.canonical.canonical_from_dict` does the typed checks.
So every decode error is a ``SchemaViolation`` with a box, and an encode of a value the
format cannot carry is a ``TranslationFailed`` with a box (never a silent drop).

Mapping file schema (TOML; the config loader parses it, this module receives the dict)::

    [format]
    kind = "xml"                     # "xml" or "json"
    title = "Indonesia e-SKA"        # optional, for humans
    # XML only:
    namespace = "urn:example:ska:1"  # namespace of every element ("" for none)
    root = "DokumenSKA"              # local name of the root element; marker = {namespace}root
    prefix = "ska"                   # optional prefix on encode (default: default namespace)
    # JSON only: the marker key that identifies the format, written first on encode
    marker_key = "formatId"
    marker_value = "VN-ECOSYS-AK/1"

    [converters.tgl]                 # named value converters, referenced by fields
    type = "date"                    # date:    format = strftime pattern, e.g. "%d-%m-%Y"
    format = "%d-%m-%Y"
    [converters.yt]
    type = "bool"                    # bool:    true = "Y", false = "T" (tokens on the wire)
    true = "Y"
    false = "T"
    [converters.kriteria]
    type = "enum"                    # enum:    codes = {canonical value = national code}
    codes = { "WO" = "1", "CTH" = "3" }
    [converters.koma]
    type = "decimal"                 # decimal: separator = "," (decimal mark on the wire)
    separator = ","
    [converters.nomor]
    type = "int"                     # int:     width = 3 (zero-padded text, e.g. "007")
    width = 3

    [fields]                         # certificate-level fields: canonical path = national path
    reference_no = "NomorSKA"
    "exporter.name" = "Eksportir/Nama"
    "certification.issue_date" = { path = "Pengesahan/Tanggal", convert = "tgl" }
    # a table may also override the box reported on errors: { path = "...", box = "12" }

    [groups.items]                   # a repeated group: canonical list = national path
    path = "DaftarBarang/Barang"     # XML: container(s)/repeated element; JSON: keys to an array
    [groups.items.fields]            # paths relative to one repeated element / array entry
    item_no = { path = "@no", convert = "nomor" }
    "origin.kind" = { path = "Kriteria", convert = "kriteria" }
    "gross_weight.value" = "Berat"
    "gross_weight.unit" = "Berat/@satuan"

    [groups."items.invoices"]        # nested group: relative to one item
    path = "Faktur"
    [groups."items.invoices".fields]
    number = "Nomor"
    date = { path = "Tanggal", convert = "tgl" }

Canonical paths are the dotted keys of the canonical dict (see ``schemas.canonical_catalogue``),
relative to their group. National paths are ``/``-separated element names (XML) or keys
(JSON); in XML the last step may be ``@attr`` (an unqualified attribute) and ``.`` is the
group's own element. Rules checked at build time:

* every mandatory canonical field of a mapped scope is mapped (``items`` must be mapped);
* an optional object (``fob``, ``quantity``, ``third_country_invoicer``...) is mapped with all
  of its required fields or none;
* converters exist and fit the field (a date converter on a date field, enum codes that are
  canonical values and distinct national codes, ...);
* no two fields share a national path, and no field path runs into a repeated group.

Unmapped optional fields decode as absent (or their default); encoding a certificate whose
unmapped field has a non-default value raises ``TranslationFailed`` naming the box.
Empty text (XML) and ``""`` or ``null`` (JSON) count as absent. Unknown national elements
and keys are ignored.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from lxml import etree

from ak_bridge.core.canonical import (
    FieldInfo,
    GroupInfo,
    canonical_catalogue,
    canonical_from_dict,
    canonical_to_dict,
)
from ak_bridge.core.errors import ConfigError, SchemaViolation, TranslationFailed, clip
from ak_bridge.core.model import FormAK
from ak_bridge.formats.akstd import require_element
from ak_bridge.formats.xml_children import Children

__all__ = ["MappedCodec"]

_LEAVES, _GROUPS = canonical_catalogue()
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_JSON_KEY = re.compile(r"^[^/]+$")
_DIGITS = re.compile(r"^[0-9]+$")
# What XML 1.0 cannot carry (its Char production): a JSON string may hold it, UNI-PASS
# and every XML format may not, so it is refused on the way in, naming the box.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# No box of a Form AK holds a number near this; past 4,300 digits int() itself raises.
MAX_INT_DIGITS = 18


# -- converters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Converter:
    """Canonical JSON value <-> national wire value."""

    name: str
    type: Literal["date", "bool", "enum", "decimal", "int"]
    fmt: str = ""
    true: Any = None
    false: Any = None
    codes: Mapping[str, str] = field(default_factory=dict)
    separator: str = "."
    width: int = 0

    def to_wire(self, value: Any, where: str, box: str) -> Any:
        if self.type == "date":
            return date.fromisoformat(value).strftime(self.fmt)
        if self.type == "bool":
            return self.true if value else self.false
        if self.type == "enum":
            if value not in self.codes:
                raise TranslationFailed(
                    f"{where}: no national code for {value!r} in converter {self.name!r}", box=box
                )
            return self.codes[value]
        if self.type == "decimal":
            return value.replace(".", self.separator)
        return str(value).zfill(self.width)  # int

    def from_wire(self, raw: Any, where: str, box: str) -> Any:
        def bad(expected: str) -> SchemaViolation:
            return SchemaViolation(f"{where}: {clip(repr(raw), 80)} is not {expected}", box=box)

        if self.type == "bool":
            if raw == self.true and type(raw) is type(self.true):
                return True
            if raw == self.false and type(raw) is type(self.false):
                return False
            raise bad(f"{self.true!r} or {self.false!r}")
        if self.type == "int" and isinstance(raw, int) and not isinstance(raw, bool):
            if abs(raw) >= 10**MAX_INT_DIGITS:
                raise SchemaViolation(f"{where}: more than {MAX_INT_DIGITS} digits", box=box)
            return raw
        if not isinstance(raw, str):
            raise bad("a string")
        if self.type == "date":
            try:
                return datetime.strptime(raw, self.fmt).date().isoformat()
            except ValueError:
                raise bad(f"a date in the format {self.fmt}") from None
        if self.type == "enum":
            for canonical, code in self.codes.items():
                if code == raw:
                    return canonical
            raise bad(f"a known code ({', '.join(self.codes.values())})")
        if self.type == "decimal":
            whole, sep, frac = raw.partition(self.separator)
            if not _DIGITS.match(whole) or (sep and not _DIGITS.match(frac)):
                raise bad(f"a decimal with {self.separator!r} as decimal mark")
            return f"{whole}.{frac}" if sep else whole
        if not _DIGITS.match(raw) or len(raw.strip()) > MAX_INT_DIGITS:  # int
            raise bad(f"a whole number of at most {MAX_INT_DIGITS} digits")
        return int(raw)


# -- compiled mapping ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    info: FieldInfo
    national: str  # as written in the mapping, for messages
    steps: tuple[str, ...]  # element names / keys
    attr: str | None  # XML attribute at the end of ``steps``
    conv: _Converter | None
    box: str


@dataclass(frozen=True)
class _Group:
    path: str  # canonical group path ("" for the certificate itself)
    rel: str  # key in the parent object
    national: str
    steps: tuple[str, ...]
    box: str
    fields: tuple[_Field, ...]
    children: tuple[_Group, ...]
    unmapped: tuple[FieldInfo, ...]
    unmapped_groups: tuple[GroupInfo, ...]
    required_objects: tuple[str, ...]  # rel paths of nested objects that must exist


def _require_table(value: Any, source: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(source, key, "must be a table")
    return value


def _no_unknown(table: Mapping[str, Any], allowed: set[str], source: str, key: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(source, f"{key}.{unknown[0]}" if key else unknown[0], "unknown key")


class MappedCodec:
    """A national CO format described by a mapping dict (see the module docstring)."""

    def __init__(self, name: str, mapping: Mapping[str, Any], *, source: str | None = None) -> None:
        self.name = name
        self.source = source or f"config/formats/{name}.toml"
        src = self.source
        mapping = _require_table(mapping, src, "(file)")
        _no_unknown(mapping, {"format", "converters", "fields", "groups"}, src, "")
        fmt = _require_table(mapping.get("format"), src, "format")
        kind = fmt.get("kind")
        if kind not in ("xml", "json"):
            raise ConfigError(src, "format.kind", 'must be "xml" or "json"')
        self.kind: Literal["xml", "json"] = kind
        self.title: str = str(fmt.get("title", name))
        if kind == "xml":
            _no_unknown(fmt, {"kind", "title", "namespace", "root", "prefix"}, src, "format")
            ns = fmt.get("namespace")
            root = fmt.get("root")
            if not isinstance(ns, str):
                raise ConfigError(src, "format.namespace", 'required for XML ("" for none)')
            if not isinstance(root, str) or not _NCNAME.match(root):
                raise ConfigError(src, "format.root", "required: the root element's local name")
            prefix = fmt.get("prefix")
            if prefix is not None and (
                not isinstance(prefix, str) or not _NCNAME.match(prefix) or not ns
            ):
                raise ConfigError(src, "format.prefix", "must be an NCName, with a namespace")
            self.namespace: str = ns
            self.prefix: str | None = prefix
            self.marker = self._q(root)
            self.marker_key: str | None = None
            self.marker_value: Any = None
        else:
            _no_unknown(fmt, {"kind", "title", "marker_key", "marker_value"}, src, "format")
            key, value = fmt.get("marker_key"), fmt.get("marker_value")
            if not isinstance(key, str) or not key:
                raise ConfigError(src, "format.marker_key", "required for JSON formats")
            if not isinstance(value, str) or not value:
                raise ConfigError(src, "format.marker_value", "required for JSON formats")
            self.namespace, self.prefix = "", None
            self.marker_key, self.marker_value = key, value
            self.marker = f"{key}={value}"
        self._converters = self._compile_converters(mapping.get("converters", {}))
        self._root = self._compile_groups(mapping)

    @property
    def tree(self) -> _Group:
        """The compiled mapping (read by ``json_schema``)."""
        return self._root

    # -- building -------------------------------------------------------------------------

    def _compile_converters(self, table: Any) -> dict[str, _Converter]:
        src = self.source
        out: dict[str, _Converter] = {}
        for cname, spec in _require_table(table, src, "converters").items():
            key = f"converters.{cname}"
            spec = _require_table(spec, src, key)
            ctype = spec.get("type")
            allowed = {
                "date": {"format"},
                "bool": {"true", "false"},
                "enum": {"codes"},
                "decimal": {"separator"},
                "int": {"width"},
            }
            if ctype not in allowed:
                raise ConfigError(src, f"{key}.type", f"must be one of {', '.join(allowed)}")
            _no_unknown(spec, {"type", *allowed[ctype]}, src, key)
            if ctype == "date":
                fmt = spec.get("format")
                if not isinstance(fmt, str) or not fmt:
                    raise ConfigError(src, f"{key}.format", "a strftime pattern is required")
                probe = date(2024, 11, 23)
                try:
                    ok = datetime.strptime(probe.strftime(fmt), fmt).date() == probe
                except ValueError:
                    ok = False
                if not ok:
                    raise ConfigError(src, f"{key}.format", f"{fmt!r} does not round-trip a date")
                out[cname] = _Converter(cname, "date", fmt=fmt)
            elif ctype == "bool":
                t, f = spec.get("true"), spec.get("false")
                for tok, k in ((t, "true"), (f, "false")):
                    if not isinstance(tok, str | bool | int) or tok == "":
                        raise ConfigError(src, f"{key}.{k}", "a non-empty token is required")
                    if self.kind == "xml" and not isinstance(tok, str):
                        raise ConfigError(src, f"{key}.{k}", "XML tokens must be strings")
                if t == f:
                    raise ConfigError(src, key, "true and false tokens must differ")
                out[cname] = _Converter(cname, "bool", true=t, false=f)
            elif ctype == "enum":
                codes = _require_table(spec.get("codes"), src, f"{key}.codes")
                if not codes:
                    raise ConfigError(src, f"{key}.codes", "at least one code is required")
                for canon, code in codes.items():
                    if not isinstance(code, str) or not code:
                        raise ConfigError(
                            src, f"{key}.codes.{canon}", "codes must be non-empty strings"
                        )
                if len(set(codes.values())) != len(codes):
                    raise ConfigError(
                        src, f"{key}.codes", "two canonical values share a national code"
                    )
                out[cname] = _Converter(cname, "enum", codes=dict(codes))
            elif ctype == "decimal":
                sep = spec.get("separator", ".")
                if sep not in (".", ","):
                    raise ConfigError(src, f"{key}.separator", 'must be "." or ","')
                out[cname] = _Converter(cname, "decimal", separator=sep)
            else:
                width = spec.get("width", 0)
                if not isinstance(width, int) or isinstance(width, bool) or not 0 <= width <= 12:
                    raise ConfigError(src, f"{key}.width", "must be an integer from 0 to 12")
                out[cname] = _Converter(cname, "int", width=width)
        return out

    def _parse_path(
        self, national: Any, key: str, *, group: bool = False
    ) -> tuple[tuple[str, ...], str | None]:
        src = self.source
        if not isinstance(national, str) or not national:
            raise ConfigError(src, key, "a non-empty path is required")
        if national == ".":
            if group or self.kind == "json":
                raise ConfigError(src, key, '"." is only allowed for XML fields')
            return (), None
        steps = national.split("/")
        attr = None
        if self.kind == "xml" and steps[-1].startswith("@"):
            if group:
                raise ConfigError(src, key, "a repeated group cannot be an attribute")
            attr = steps.pop()[1:]
            if steps == ["."]:
                steps = []
        pattern = _NCNAME if self.kind == "xml" else _JSON_KEY
        for step in (*steps, *([attr] if attr else [])):
            if not pattern.match(step):
                raise ConfigError(src, key, f"{step!r} is not a valid {self.kind.upper()} name")
        if group and not steps:
            raise ConfigError(src, key, "a repeated group needs a path")
        if self.kind == "json" and not steps:  # pragma: no cover - excluded above
            raise ConfigError(src, key, "a JSON field needs a key")
        return tuple(steps), attr

    def _compile_fields(self, scope: str, table: Any, key: str) -> tuple[_Field, ...]:
        src = self.source
        out: list[_Field] = []
        for rel, spec in _require_table(table, src, key).items():
            fkey = f"{key}.{rel}"
            info = _LEAVES.get(f"{scope}.{rel}" if scope else rel)
            if info is None or info.scope != scope:
                raise ConfigError(
                    src, fkey, f"not a canonical field of {scope or 'the certificate'}"
                )
            if isinstance(spec, str):
                spec = {"path": spec}
            spec = _require_table(spec, src, fkey)
            _no_unknown(spec, {"path", "convert", "box"}, src, fkey)
            steps, attr = self._parse_path(spec.get("path"), f"{fkey}.path")
            conv = None
            if "convert" in spec:
                conv = self._converters.get(spec["convert"])
                if conv is None:
                    raise ConfigError(src, f"{fkey}.convert", f"no converter {spec['convert']!r}")
                if conv.type != info.kind:  # converter types are named after leaf kinds
                    raise ConfigError(
                        src,
                        f"{fkey}.convert",
                        f"a {conv.type} converter cannot carry a {info.kind} field",
                    )
                if conv.type == "enum":
                    extra = sorted(set(conv.codes) - set(info.choices))
                    if extra:
                        raise ConfigError(
                            src,
                            f"converters.{conv.name}.codes",
                            f"{extra[0]!r} is not a value of {rel}",
                        )
            box = spec.get("box", info.box)
            if not isinstance(box, str) or not box:
                raise ConfigError(src, f"{fkey}.box", 'must be a box name such as "7"')
            out.append(_Field(info, spec["path"], steps, attr, conv, box))
        return tuple(out)

    def _compile_groups(self, mapping: Mapping[str, Any]) -> _Group:
        src = self.source
        groups = _require_table(mapping.get("groups", {}), src, "groups")
        compiled: dict[str, tuple[str, tuple[str, ...], tuple[_Field, ...]]] = {}
        for gpath, spec in groups.items():
            gkey = f"groups.{gpath}"
            if gpath not in _GROUPS:
                raise ConfigError(src, gkey, f"not a repeated group (one of {', '.join(_GROUPS)})")
            parent = _GROUPS[gpath].parent
            if parent and parent not in groups:
                raise ConfigError(src, gkey, f"its parent group {parent!r} is not mapped")
            spec = _require_table(spec, src, gkey)
            _no_unknown(spec, {"path", "fields"}, src, gkey)
            steps, _ = self._parse_path(spec.get("path"), f"{gkey}.path", group=True)
            fields_ = self._compile_fields(gpath, spec.get("fields", {}), f"{gkey}.fields")
            compiled[gpath] = (spec["path"], steps, fields_)
        root_fields = self._compile_fields("", mapping.get("fields", {}), "fields")

        def build(
            scope: str, national: str, steps: tuple[str, ...], fields_: tuple[_Field, ...]
        ) -> _Group:
            key = f"groups.{scope}.fields" if scope else "fields"
            mapped = {f.info.rel for f in fields_}
            in_scope = [i for i in _LEAVES.values() if i.scope == scope]
            for info in in_scope:
                if info.mandatory and info.rel not in mapped:
                    raise ConfigError(
                        src, key, f"{info.rel} (box {info.box}) is mandatory and not mapped"
                    )
            for obj in {i.optional_parent for i in in_scope if i.optional_parent}:
                needed = [i for i in in_scope if i.optional_parent == obj and i.required]
                some = [i for i in needed if i.rel in mapped]
                if some and len(some) != len(needed):
                    missing = next(i for i in needed if i.rel not in mapped)
                    raise ConfigError(
                        src, key, f"{missing.rel} must be mapped too: {obj} is mapped in part"
                    )
            for n, f in enumerate(fields_):
                for other in fields_[:n]:
                    same = (f.steps, f.attr) == (other.steps, other.attr)
                    if same or (self.kind == "json" and _runs_into(f.steps, None, other.steps)):
                        raise ConfigError(
                            src,
                            f"{key}.{f.info.rel}",
                            f"national path clashes with {other.info.rel}",
                        )
            child_groups = [g for g in _GROUPS.values() if g.parent == scope]
            children: list[_Group] = []
            for g in child_groups:
                if g.path not in compiled:
                    if g.min_items:
                        raise ConfigError(
                            src, f"groups.{g.path}", f"box {g.box} is mandatory: map it"
                        )
                    continue
                c_national, c_steps, c_fields = compiled[g.path]
                for f in fields_:
                    if _runs_into(f.steps, f.attr, c_steps):
                        raise ConfigError(
                            src, f"{key}.{f.info.rel}", f"path runs into repeated group {g.path!r}"
                        )
                children.append(build(g.path, c_national, c_steps, c_fields))
            required_objects = sorted(
                {
                    ".".join(i.rel.split(".")[:n])
                    for i in in_scope
                    if i.optional_parent is None
                    for n in range(1, i.rel.count(".") + 1)
                }
            )
            return _Group(
                path=scope,
                rel=_GROUPS[scope].rel if scope else "",
                national=national,
                steps=steps,
                box=_GROUPS[scope].box if scope else "header",
                fields=fields_,
                children=tuple(children),
                unmapped=tuple(i for i in in_scope if i.rel not in mapped),
                unmapped_groups=tuple(g for g in child_groups if g.path not in compiled),
                required_objects=tuple(required_objects),
            )

        return build("", "", (), root_fields)

    # -- Codec protocol -------------------------------------------------------------------

    def recognizes(self, document: etree._Element | dict[str, Any]) -> bool:
        if self.kind == "xml":
            return isinstance(document, etree._Element) and document.tag == self.marker
        return isinstance(document, dict) and document.get(self.marker_key) == self.marker_value

    def encode(
        self, co: FormAK, data: dict[str, Any] | None = None
    ) -> etree._Element | dict[str, Any]:
        """``data``: ``co``'s canonical dict when the caller has made it already."""
        data = canonical_to_dict(co) if data is None else data
        if self.kind == "xml":
            nsmap = {self.prefix: self.namespace} if self.namespace else None
            root = etree.Element(self.marker, nsmap=nsmap)
            self._write_xml(root, data, self._root, self._root_name())
            return root
        doc: dict[str, Any] = {self.marker_key: self.marker_value}
        self._write_json(doc, data, self._root, self.marker_key or "")
        return doc

    def decode(self, payload: etree._Element | dict[str, Any]) -> FormAK:
        return canonical_from_dict(self.read(payload))

    def read(self, payload: etree._Element | dict[str, Any]) -> dict[str, Any]:
        """Apply the mapping's checks; the canonical dict, before the model's checks."""
        if self.kind == "xml":
            root = require_element(payload, self.name)
            if root.tag != self.marker:
                raise SchemaViolation(f"{self.name}: root must be {self.marker}, not {root.tag}")
            data = self._read(root, self._root, self._root_name())
        else:
            if not isinstance(payload, dict):
                raise SchemaViolation(f"{self.name} expects a JSON object")
            if payload.get(self.marker_key) != self.marker_value:
                raise SchemaViolation(
                    f"{self.name}: {self.marker_key!r} must be {self.marker_value!r}", box=None
                )
            data = self._read(payload, self._root, "$")
        return data

    # -- shared helpers -------------------------------------------------------------------

    def _root_name(self) -> str:
        return self.marker.rpartition("}")[2]

    def _q(self, local: str) -> str:
        return f"{{{self.namespace}}}{local}" if self.namespace else local

    def _check_carried(self, data: dict[str, Any], group: _Group, where: str) -> None:
        for info in group.unmapped:
            value = _get(data, info.rel)
            if value is not None and value != info.default:
                raise TranslationFailed(
                    f"{self.name} has no place for {info.path} (at {where})", box=info.box
                )
        for g in group.unmapped_groups:
            if data.get(g.rel):
                raise TranslationFailed(
                    f"{self.name} has no place for {g.path} (at {where})", box=g.box
                )

    def _read(
        self, node: Any, group: _Group, where: str, kids: Children | None = None
    ) -> dict[str, Any]:
        kids = kids or Children()
        out: dict[str, Any] = {}
        for f in group.fields:
            place = f"{where}/{f.national}"
            raw = self._xml_get(node, f, kids) if self.kind == "xml" else _json_get(node, f.steps)
            if raw is None or raw == "":
                if f.info.mandatory:
                    raise SchemaViolation(f"{self.name}: {place} is missing", box=f.box)
                continue
            _set(out, f.info.rel, self._from_wire(raw, f, place))
        for f in group.fields:  # an optional object present in part
            parent = f.info.optional_parent
            if f.info.required and parent and _get(out, parent) and _get(out, f.info.rel) is None:
                raise SchemaViolation(
                    f"{self.name}: {where}/{f.national} is missing ({parent} is present)", box=f.box
                )
        for obj in group.required_objects:
            if _get(out, obj) is None:
                _set(out, obj, {})
        for child in group.children:
            rows = (
                self._xml_all(node, child)
                if self.kind == "xml"
                else self._json_all(node, child, where)
            )
            out[child.rel] = [
                self._read(row, child, f"{where}/{child.national}[{n}]", kids)
                for n, row in enumerate(rows, start=1)
            ]
        return out

    def _from_wire(self, raw: Any, f: _Field, where: str) -> Any:
        if isinstance(raw, str) and (bad := _NOT_XML.search(raw)):
            raise SchemaViolation(
                f"{self.name}: {where}: character U+{ord(bad.group()):04X} cannot be carried "
                "in XML (control characters other than tab and line breaks)",
                box=f.box,
            )
        if f.conv is not None:
            return f.conv.from_wire(raw, where, f.box)
        if self.kind == "json":
            return raw  # the canonical schema checks the JSON type
        if f.info.kind == "int":
            if not _DIGITS.match(raw.strip()) or len(raw.strip()) > MAX_INT_DIGITS:
                raise SchemaViolation(
                    f"{self.name}: {where}: {clip(repr(raw), 80)} is not a whole number of at "
                    f"most {MAX_INT_DIGITS} digits",
                    box=f.box,
                )
            return int(raw)
        if f.info.kind == "bool":
            token = raw.strip()
            if token not in ("true", "false", "1", "0"):
                raise SchemaViolation(f"{self.name}: {where}: {raw!r} is not a boolean", box=f.box)
            return token in ("true", "1")
        return raw

    def _to_wire(self, value: Any, f: _Field, where: str) -> Any:
        if f.conv is not None:
            return f.conv.to_wire(value, where, f.box)
        if self.kind == "json":
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    # -- XML ------------------------------------------------------------------------------

    def _xml_path(self, steps: tuple[str, ...]) -> str:
        """Built once per path: the accept path reads some 70 fields per certificate."""
        cache = self.__dict__.setdefault("_paths", {})
        path = cache.get(steps)
        if path is None:
            path = cache[steps] = "/".join(self._q(s) for s in steps)
        return path

    def _tags(self, steps: tuple[str, ...]) -> tuple[str, ...]:
        """The Clark-notation tags of a path, built once per path."""
        cache = self.__dict__.setdefault("_tag_paths", {})
        tags = cache.get(steps)
        if tags is None:
            tags = cache[steps] = tuple(self._q(s) for s in steps)
        return tags

    def _xml_get(self, node: etree._Element, f: _Field, kids: Children) -> str | None:
        el = kids.find(node, self._tags(f.steps))
        if el is None:
            return None
        if f.attr is not None:
            return el.get(f.attr)
        # direct text only (XPath text(): the element's text and its children's tails), without
        # an XPath evaluation per field, which was the codec's largest cost
        return "".join([el.text or "", *(child.tail or "" for child in el)])

    def _xml_all(self, node: etree._Element, group: _Group) -> list[etree._Element]:
        return node.findall(self._xml_path(group.steps))

    def _write_xml(
        self,
        node: etree._Element,
        data: dict[str, Any],
        group: _Group,
        where: str,
        kids: Children | None = None,
    ) -> None:
        kids = kids or Children()
        self._check_carried(data, group, where)
        for f in group.fields:
            value = _get(data, f.info.rel)
            if value is None:
                continue
            wire = self._to_wire(value, f, f"{where}/{f.national}")
            el = kids.ensure(node, self._tags(f.steps))
            if f.attr is not None:
                el.set(f.attr, wire)
            else:
                el.text = wire
        for child in group.children:
            rows = data.get(child.rel) or []
            if not rows:
                continue
            container = kids.ensure(node, self._tags(child.steps[:-1]))
            for n, row in enumerate(rows, start=1):
                el = etree.SubElement(container, self._q(child.steps[-1]))
                self._write_xml(el, row, child, f"{where}/{child.national}[{n}]", kids)

    # -- JSON -----------------------------------------------------------------------------

    def _json_all(self, node: dict[str, Any], group: _Group, where: str) -> list[dict[str, Any]]:
        rows = _json_get(node, group.steps)
        if rows is None:
            return []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise SchemaViolation(
                f"{self.name}: {where}/{group.national} must be an array of objects", box=group.box
            )
        return rows

    def _write_json(
        self, node: dict[str, Any], data: dict[str, Any], group: _Group, where: str
    ) -> None:
        self._check_carried(data, group, where)
        for f in group.fields:
            value = _get(data, f.info.rel)
            if value is not None:
                _json_set(node, f.steps, self._to_wire(value, f, f"{where}/{f.national}"))
        for child in group.children:
            rows = data.get(child.rel) or []
            if not rows:
                continue
            out: list[dict[str, Any]] = []
            for n, row in enumerate(rows, start=1):
                obj: dict[str, Any] = {}
                self._write_json(obj, row, child, f"{where}/{child.national}[{n}]")
                out.append(obj)
            _json_set(node, child.steps, out)


def _runs_into(steps: tuple[str, ...], attr: str | None, other: tuple[str, ...]) -> bool:
    """Whether a field at ``steps``(/@attr) collides with the element or key at ``other``."""
    if steps[: len(other)] == other:
        return True
    return attr is None and other[: len(steps)] == steps


def _get(data: dict[str, Any], rel: str) -> Any:
    node: Any = data
    for part in rel.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set(data: dict[str, Any], rel: str, value: Any) -> None:
    *parents, last = rel.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _json_get(node: Any, steps: tuple[str, ...]) -> Any:
    for step in steps:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node


def _json_set(node: dict[str, Any], steps: tuple[str, ...], value: Any) -> None:
    for step in steps[:-1]:
        node = node.setdefault(step, {})
    node[steps[-1]] = value
