"""marshmallow 4 schemas for the canonical Form AK: the JSON shape of :mod:`ak_bridge.core.model`.

Why this module exists: the canonical model must cross process edges (the store, the JSON
API, the audit log, the idempotency hash) as plain JSON, and a document built from outside
data must be checked field by field with the Form AK box of the first bad field named. Every
field carries ``metadata={"box": ...}`` so that a marshmallow error path maps to a box.

Conventions of the canonical JSON (one choice, applied everywhere):

* dates are ISO 8601 strings (``"2024-03-05"``);
* decimals are fixed-point strings (``"40.00"``, never ``"4E+1"``), non-negative;
* enums are their values (``"CTH+RVC"``); tuples are lists;
* ``None`` is left out on dump, and a missing optional key loads as ``None``;
* booleans and ints are JSON booleans and numbers, and loading is strict about it (``"5"`` is
  not an int, ``"yes"`` is not a boolean), so a partner's sloppy JSON is a schema violation.

Code shapes (country, currency, HS, UN/ECE units) are checked here as in the XSDs, so that a
document valid in one wire format is valid in all of them. Business rules (FOB iff RVC, dates
in order, ...) are not: they belong to the rules module, which reports all findings at once.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, fields, is_dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from marshmallow import (
    Schema,
    ValidationError,
    post_dump,
    post_load,
    validate,
)
from marshmallow import (
    fields as mf,
)
from marshmallow.utils import missing as _MISSING

from ak_bridge.core.errors import SchemaViolation
from ak_bridge.core.model import (
    AKFTA_PARTIES,
    Certification,
    CriterionKind,
    CtcLevel,
    Declaration,
    Exhibition,
    FormAK,
    GoodsItem,
    Invoice,
    InvoiceIssuer,
    Money,
    OriginalCertificate,
    OriginCriterion,
    Party,
    Quantity,
    Transport,
)

__all__ = [
    "FieldInfo",
    "FormAKSchema",
    "GroupInfo",
    "box_of_path",
    "canonical_catalogue",
    "canonical_from_dict",
    "canonical_to_dict",
    "content_hash",
]

_PARTIES = sorted(AKFTA_PARTIES)
DESCRIPTION_MAX = 2000  # Box 7, standard 1.1 (1.0's XSD allows 512)
_DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")  # \Z: "$" also matches before a final "\n"


def _text(box: str, max_len: int, **kw: Any) -> mf.String:
    return mf.String(validate=validate.Length(min=1, max=max_len), metadata={"box": box}, **kw)


def _code(box: str, pattern: str, **kw: Any) -> mf.String:
    return mf.String(
        validate=validate.Regexp(f"^{pattern}\\Z", error="must match {regex}"),
        metadata={"box": box},
        **kw,
    )


def _party_country(box: str, **kw: Any) -> mf.String:
    return mf.String(
        validate=validate.OneOf(_PARTIES, error="must be an AKFTA Party ({choices})"),
        metadata={"box": box},
        **kw,
    )


def _optional(**kw: Any) -> dict[str, Any]:
    return {"load_default": None, "allow_none": True, **kw}


class DecimalString(mf.Decimal):
    """A non-negative decimal carried as a fixed-point string, loaded only from a string."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return format(Decimal(value), "f")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or not _DECIMAL_RE.match(value):
            raise ValidationError("must be a non-negative decimal string such as '12.50'")
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - excluded by the pattern
            raise ValidationError("not a decimal") from None


def _decimal(box: str, **kw: Any) -> DecimalString:
    return DecimalString(metadata={"box": box}, **kw)


def _date(box: str, **kw: Any) -> mf.Date:
    return mf.Date(metadata={"box": box}, **kw)


class StrictBoolean(mf.Boolean):
    """JSON true or false only: marshmallow's own takes 1 and 0 (``1 in {True}`` is true)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


def _bool(box: str, default: bool = False) -> StrictBoolean:
    return StrictBoolean(load_default=default, metadata={"box": box})


def _reference(box: str, **kw: Any) -> mf.String:
    """A reference number: no surrounding white space or control characters, which would
    make "KR-1\n" a CO distinct from "KR-1"."""
    return mf.String(
        validate=[
            validate.Length(min=1, max=35),
            validate.Regexp(
                r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?\Z",
                error="no surrounding spaces or control characters",
            ),
        ],
        metadata={"box": box},
        **kw,
    )


class _ModelSchema(Schema):
    """Loads into the frozen dataclass ``model``; dumps without ``None`` values."""

    model: ClassVar[type]

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.model(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @post_dump
    def _drop_none(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v is not None}


def _party_schema(box: str, *, akfta: bool) -> type[_ModelSchema]:
    country = _party_country(box, required=True) if akfta else _code(box, "[A-Z]{2}", required=True)
    return type(
        f"PartySchema{box}{'' if akfta else 'Any'}",
        (_ModelSchema,),
        {
            "model": Party,
            "name": _text(box, 140, required=True),
            "address": _text(box, 512, required=True),
            "country": country,
        },
    )


ExporterSchema = _party_schema("1", akfta=True)
ConsigneeSchema = _party_schema("2", akfta=True)
InvoicerSchema = _party_schema("7", akfta=False)


class QuantitySchema(_ModelSchema):
    model = Quantity
    value = _decimal("9", required=True)
    unit = _code("9", "[A-Z0-9]{2,3}", required=True)  # UN/ECE Rec 20


class ItemQuantitySchema(QuantitySchema):
    """Box 7 "including quantity where appropriate"."""

    value = _decimal("7", required=True)
    unit = _code("7", "[A-Z0-9]{2,3}", required=True)


class MoneySchema(_ModelSchema):
    model = Money
    amount = _decimal("9", required=True)
    currency = _code("9", "[A-Z]{3}", required=True)  # ISO 4217


class TransportSchema(_ModelSchema):
    model = Transport
    departure_date = _date("3", **_optional())
    vessel = _text("3", 70, **_optional())
    port_of_loading = _text("3", 70, **_optional())
    port_of_discharge = _text("3", 70, **_optional())
    mode = _code("3", "[0-9]", **_optional())  # UN/ECE Rec 19
    route = _text("3", 512, **_optional())
    transit_ports = mf.List(_text("3", 70), load_default=list, metadata={"box": "3"})
    document_no = _text("3", 35, **_optional())
    document_date = _date("3", **_optional())

    @post_dump
    def _drop_empty_route(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """No transit ports is no key: a 1.0 certificate's JSON (and hash) stays as it was."""
        if not data.get("transit_ports"):
            data.pop("transit_ports", None)
        return data


class OriginCriterionSchema(_ModelSchema):
    model = OriginCriterion
    kind = mf.Enum(CriterionKind, by_value=True, required=True, metadata={"box": "8"})
    rvc_percent = DecimalString(
        metadata={"box": "8"},
        validate=validate.Range(min=0, max=100),
        **_optional(),
    )
    ctc_level = mf.Enum(CtcLevel, by_value=True, metadata={"box": "8"}, **_optional())


class InvoiceIssuerSchema(_ModelSchema):
    model = InvoiceIssuer
    name = _text("10", 140, required=True)
    country = _code("10", "[A-Z]{2}", required=True)


class InvoiceSchema(_ModelSchema):
    model = Invoice
    number = _text("10", 35, required=True)
    date = _date("10", required=True)
    issuer = mf.Nested(InvoiceIssuerSchema, metadata={"box": "10"}, **_optional())


class ExhibitionSchema(_ModelSchema):
    model = Exhibition
    name = _text("2", 140, required=True)
    address = _text("2", 512, required=True)
    country = _code("2", "[A-Z]{2}", required=True)
    start_date = _date("2", **_optional())
    end_date = _date("2", **_optional())
    buyer = _text("2", 140, **_optional())


class GoodsItemSchema(_ModelSchema):
    model = GoodsItem
    item_no = mf.Integer(
        strict=True, required=True, validate=validate.Range(min=1), metadata={"box": "5"}
    )
    marks = _text("6", 512, required=True)
    package_count = mf.Integer(
        strict=True, required=True, validate=validate.Range(min=0), metadata={"box": "7"}
    )
    package_type = _code("7", "[A-Z0-9]{2}", required=True)  # UN/ECE Rec 21
    description = _text("7", DESCRIPTION_MAX, required=True)
    hs_code = _code("7", "[0-9]{6,10}", required=True)
    origin = mf.Nested(OriginCriterionSchema, required=True, metadata={"box": "8"})
    # optional since 1.1 (Box 9 "or other quantity"); the 1.0-shaped national formats still
    # require it, so the catalogue they are mapped from says mandatory ("in_1_0")
    gross_weight = mf.Nested(
        QuantitySchema, metadata={"box": "9", "required_in_1_0": True}, **_optional()
    )
    quantity = mf.Nested(ItemQuantitySchema, metadata={"box": "7"}, **_optional())
    fob = mf.Nested(MoneySchema, metadata={"box": "9"}, **_optional())
    invoices = mf.List(mf.Nested(InvoiceSchema), load_default=list, metadata={"box": "10"})
    national_tariff_code = _code("7", "[0-9]{6,12}", **_optional())


class DeclarationSchema(_ModelSchema):
    model = Declaration
    producing_country = _party_country("11", required=True)
    importing_country = _party_country("11", required=True)
    place = _text("11", 70, required=True)
    date = _date("11", required=True)
    signatory_name = _text("11", 70, required=True)
    signatory_title = _text("11", 70, **_optional())


class CertificationSchema(_ModelSchema):
    model = Certification
    authority_id = _text("12", 35, required=True)
    authority_name = _text("12", 140, required=True)
    place = _text("12", 70, required=True)
    issue_date = _date("12", required=True)
    officer_name = _text("12", 70, required=True)
    seal_id = _text("12", 35, **_optional())
    signed_electronically = _bool("12", default=True)
    issuing_body = _code("12", "[A-Z0-9][A-Z0-9-]{0,34}", **_optional())


class OriginalCertificateSchema(_ModelSchema):
    model = OriginalCertificate
    reference_no = _reference("7", required=True)
    issue_date = _date("7", required=True)
    issuing_country = _party_country("7", **_optional())


class FormAKSchema(_ModelSchema):
    model = FormAK
    reference_no = _reference("header", required=True)
    issuing_country = _party_country("header", required=True)
    exporter = mf.Nested(ExporterSchema, required=True, metadata={"box": "1"})
    consignee = mf.Nested(ConsigneeSchema, required=True, metadata={"box": "2"})
    transport = mf.Nested(TransportSchema, required=True, metadata={"box": "3"})
    items = mf.List(
        mf.Nested(GoodsItemSchema),
        required=True,
        validate=validate.Length(min=1, max=999),
        metadata={"box": "5"},
    )
    declaration = mf.Nested(DeclarationSchema, required=True, metadata={"box": "11"})
    certification = mf.Nested(CertificationSchema, required=True, metadata={"box": "12"})
    hs_edition = _code("7", r"HS[0-9]{4}", load_default="HS2022")
    third_country_invoicing = _bool("13")
    exhibition = _bool("13")
    back_to_back = _bool("13")
    issued_retroactively = _bool("marking")
    certified_true_copy = _bool("marking")
    third_country_invoicer = mf.Nested(InvoicerSchema, metadata={"box": "7"}, **_optional())
    original_certificate = mf.Nested(
        OriginalCertificateSchema, metadata={"box": "7"}, **_optional()
    )
    replaces_reference_no = _reference("header", **_optional())
    original_issue_date = _date("header", **_optional())
    remarks = _text("header", 512, **_optional())
    exhibition_details = mf.Nested(ExhibitionSchema, metadata={"box": "2"}, **_optional())


_SCHEMA = FormAKSchema()


def canonical_to_dict(co: FormAK) -> dict[str, Any]:
    """The canonical JSON-safe dict of ``co`` (see the module docstring for the conventions)."""
    return _SCHEMA.dump(co)


def canonical_from_dict(data: dict[str, Any]) -> FormAK:
    """Build a FormAK from its canonical dict; the first bad field's box is on the error."""
    if not isinstance(data, dict):
        raise SchemaViolation("a certificate must be a JSON object", box=None)
    try:
        return _SCHEMA.load(data)
    except ValidationError as exc:
        path, message = _first_error(exc.messages)
        dotted = ".".join(str(p) for p in path)
        raise SchemaViolation(f"{dotted or 'document'}: {message}", box=box_of_path(path)) from None


HASH_VERSION = 2
"""How content hashes are made now. A stored hash names its version (``v2:…``; a bare hash is
version 1), and a resend is compared with the stored hash made the same way, so a field the
model gains later does not turn a legitimate resend into ``duplicate_conflict``."""

# Fields of the canonical JSON that a version added; older versions' hashes leave them out.
FIELDS_ADDED_IN: dict[int, frozenset[str]] = {}


def hash_version(stored: str) -> int:
    """The version a stored content hash was made with."""
    if stored.startswith("v") and ":" in stored:
        return int(stored[1 : stored.index(":")])
    return 1


def content_hash(co: FormAK, version: int = HASH_VERSION) -> str:
    """The certificate's content hash as ``version`` makes it (see ``HASH_VERSION``)."""
    if version == 1:
        return _v1_hash(co)
    return canonical_record(co, version)[1]


def same_content(stored: str, co: FormAK) -> bool:
    """Is ``co`` the content a stored hash was made of, whatever version made it?"""
    return stored == content_hash(co, hash_version(stored))


def canonical_record(co: FormAK, version: int = HASH_VERSION) -> tuple[str, str]:
    """The canonical JSON text to store, and its versioned sha256: one dump for both.

    Decimals are normalised exactly (``40.00`` is ``40``, and no digit is ever rounded:
    version 1 rounded to 28 significant digits, so two gross weights that differ in the
    31st digit hashed alike). Fields added after ``version`` are left out of the hash.
    """
    body, digest, _ = canonical_record_and_dict(co, version)
    return body, digest


def canonical_record_and_dict(
    co: FormAK, version: int = HASH_VERSION
) -> tuple[str, str, dict[str, Any]]:
    """``canonical_record``, and ``canonical_to_dict(co)`` made on the way.

    One marshmallow dump serves both: the decimals are normalised in the dumped dict (a
    fixed-point string loses its trailing fraction zeros, exactly what normalising the
    Decimal and dumping it gives), so the accept path hands the dict, as dumped, to the
    destination's encoder instead of dumping the certificate a second time.
    """
    data = canonical_to_dict(co)
    plain = _plain_decimals(data, _SCHEMA)
    body = _dump(plain)
    later = set().union(*(f for v, f in FIELDS_ADDED_IN.items() if v > version))
    hashed = _dump({k: v for k, v in plain.items() if k not in later}) if later else body
    return body, f"v{version}:" + hashlib.sha256(hashed.encode("utf-8")).hexdigest(), data


def _plain_decimals(data: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """``data`` with its decimal strings normalised (``40.00`` is ``40``); the very same
    dict, not a copy, where none changes."""
    out = data
    for name, field in schema.fields.items():
        value = data.get(name)
        if value is None:
            continue
        new = _plain_value(value, field)
        if new is not value:
            if out is data:
                out = dict(data)
            out[name] = new
    return out


def _plain_value(value: Any, field: mf.Field) -> Any:
    if isinstance(field, DecimalString):
        text = value.rstrip("0").rstrip(".") if "." in value else value
        return value if text == value else text
    if isinstance(field, mf.Nested):
        return _plain_decimals(value, field.schema)
    if isinstance(field, mf.List) and isinstance(field.inner, mf.Nested):
        items = [_plain_value(v, field.inner) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _v1_hash(co: FormAK) -> str:
    """Release 0.1.0's hash (decimals rounded by the context), kept to recognise its resends."""
    body = _dump(canonical_to_dict(_normalised(co, exact=False)))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _exact_decimal(value: Decimal) -> Decimal:
    text = format(value, "f")  # exact: no context, no rounding
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text)


def _normalised(value: Any, *, exact: bool) -> Any:
    """``value`` with its decimals normalised; the very same object where nothing changes,
    so a certificate whose decimals are already plain is not rebuilt object by object."""
    if isinstance(value, Decimal):
        new = _exact_decimal(value) if exact else Decimal(format(value.normalize(), "f"))
        return value if new.as_tuple() == value.as_tuple() else new
    if isinstance(value, tuple):
        items = tuple(_normalised(v, exact=exact) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for f in fields(value):
            old = getattr(value, f.name)
            new = _normalised(old, exact=exact)
            if new is not old:
                changed[f.name] = new
        return replace(value, **changed) if changed else value
    return value


def _first_error(messages: Any) -> tuple[list[str | int], str]:
    """Walk marshmallow's error dict depth-first to the first failing field path."""
    path: list[str | int] = []
    node = messages
    while isinstance(node, dict) and node:
        key = next(iter(node))
        path.append(key)
        node = node[key]
    if isinstance(node, list):
        text = "; ".join(str(m) for m in node)
    else:
        text = str(node)
    if path and path[-1] == "_schema":
        path.pop()
    return path, text


def box_of_path(path: list[str | int] | tuple[str | int, ...] | str) -> str | None:
    """The Form AK box of a canonical field path (list indices are skipped).

    ``["items", 0, "origin", "kind"]`` and ``"items.origin.kind"`` both give ``"8"``; the box of
    the deepest known field wins, an unknown top-level key gives ``"header"``.
    """
    parts = path.split(".") if isinstance(path, str) else list(path)
    schema: Schema = _SCHEMA
    box: str | None = None
    for part in parts:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            continue
        field = schema.fields.get(part)
        if field is None:
            break
        box = field.metadata.get("box", box)
        inner = field.inner if isinstance(field, mf.List) else field
        if isinstance(inner, mf.Nested):
            schema = inner.schema
        else:
            break
    return box or "header"


# -- field catalogue: what generic codecs (formats.mapped) need to know about each leaf -----

LeafKind = Literal["str", "int", "bool", "decimal", "date", "enum"]


@dataclass(frozen=True)
class FieldInfo:
    """One canonical leaf, relative to its repeated group (``scope``)."""

    scope: str  # "" for the certificate, "items", "items.invoices"
    rel: str  # dotted path inside one object of the scope, e.g. "origin.kind"
    box: str
    kind: LeafKind
    required: bool  # required inside its own object
    optional_parent: str | None  # rel path of the first optional object above it, if any
    default: Any = None
    choices: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.scope}.{self.rel}" if self.scope else self.rel

    @property
    def mandatory(self) -> bool:
        """Must be present in every object of its scope."""
        return self.required and self.optional_parent is None


@dataclass(frozen=True)
class GroupInfo:
    """A repeated group (a list of nested objects) of the canonical model."""

    path: str  # "items", "items.invoices"
    parent: str  # scope containing it ("" or "items")
    rel: str  # key inside the parent object
    box: str
    min_items: int


def _leaf_kind(field: mf.Field) -> tuple[LeafKind, tuple[str, ...]]:
    if isinstance(field, mf.Enum):
        return "enum", tuple(m.value for m in field.enum)
    if isinstance(field, DecimalString):
        return "decimal", ()
    if isinstance(field, mf.Boolean):
        return "bool", ()
    if isinstance(field, mf.Integer):
        return "int", ()
    if isinstance(field, mf.Date):
        return "date", ()
    if isinstance(field, mf.String):
        return "str", ()
    raise TypeError(f"no leaf kind for {type(field).__name__}")  # pragma: no cover


def canonical_catalogue() -> tuple[dict[str, FieldInfo], dict[str, GroupInfo]]:
    """Every canonical leaf (keyed by full dotted path) and every repeated group."""
    leaves: dict[str, FieldInfo] = {}
    groups: dict[str, GroupInfo] = {}

    def walk(schema: Schema, scope: str, prefix: str, optional_parent: str | None) -> None:
        for name, field in schema.fields.items():
            rel = f"{prefix}{name}"
            box = field.metadata.get("box", "header")
            if isinstance(field, mf.List) and isinstance(field.inner, mf.Nested):
                path = f"{scope}.{rel}" if scope else rel
                min_items = 1 if field.required else 0
                groups[path] = GroupInfo(path, scope, rel, box, min_items)
                walk(field.inner.schema, path, "", None)
            elif isinstance(field, mf.List):
                continue  # a list of plain values (1.1 transit ports): no national format maps it
            elif isinstance(field, mf.Nested):
                required = field.required or field.metadata.get("required_in_1_0", False)
                parent = optional_parent if (optional_parent or required) else rel
                walk(field.schema, scope, f"{rel}.", parent)
            else:
                kind, choices = _leaf_kind(field)
                default = field.load_default if not callable(field.load_default) else None
                info = FieldInfo(
                    scope=scope,
                    rel=rel,
                    box=box,
                    kind=kind,
                    required=bool(field.required),
                    optional_parent=optional_parent,
                    default=None if default is _MISSING else default,
                    choices=choices,
                )
                leaves[info.path] = info

    walk(_SCHEMA, "", "", None)
    return leaves, groups
