"""Wire formats: every codec carries every valid certificate, and names the box when it can't.

Properties: ``decode(encode(co)) == co`` for akstd, unipass and every mapping under
``config/formats/`` (also through bytes: ``etree.tostring`` -> ``xmlio.parse_untrusted`` and
``json.dumps`` -> ``json.loads``), and the canonical dict round trip. Examples: a missing
mandatory box is a ``SchemaViolation`` naming that box, a bad mapping is a ``ConfigError``
naming the key, and ``detect_format`` recognises each format.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree
from strategies import form_aks

from ak_bridge.core.canonical import (
    box_of_path,
    canonical_from_dict,
    canonical_record,
    canonical_to_dict,
    content_hash,
    hash_version,
    same_content,
)
from ak_bridge.core.errors import ConfigError, SchemaViolation, TranslationFailed
from ak_bridge.core.model import CriterionKind, FormAK, OriginCriterion, Party
from ak_bridge.formats import (
    Codec,
    MappedCodec,
    build_codecs,
    detect_format,
    parse_document,
)
from ak_bridge.formats.akstd import AKSTD_NS
from ak_bridge.formats.unipass import UNIPASS_NS, format_criterion, parse_criterion
from ak_bridge.security import xmlio
from ak_bridge.sim.certificates import sample_form_ak

FORMATS_DIR = Path(__file__).resolve().parent.parent / "config" / "formats"
MAPPINGS: dict[str, dict[str, Any]] = {
    p.stem: tomllib.loads(p.read_text("utf-8")) for p in sorted(FORMATS_DIR.glob("*.toml"))
}
CODECS: dict[str, Codec] = build_codecs(MAPPINGS)
NAMES = sorted(CODECS)
ISSUED = date(2026, 1, 15)
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def wire(codec: Codec, co: FormAK) -> bytes:
    """Encode and serialise as a partner would receive it."""
    encoded = codec.encode(co)
    if codec.kind == "xml":
        assert isinstance(encoded, etree._Element)
        return xmlio.to_bytes(encoded)
    return json.dumps(encoded, ensure_ascii=False).encode("utf-8")


def unwire(codec: Codec, payload: bytes) -> FormAK:
    if codec.kind == "xml":
        return codec.decode(xmlio.parse_untrusted(payload))
    return codec.decode(json.loads(payload))


def sample(items: int = 2) -> FormAK:
    return sample_form_ak("KR-2026-AK-000123", "KR", "ID", ISSUED, items=items)


# -- the inventory ------------------------------------------------------------------------


def test_codecs_are_the_two_built_ins_and_one_per_mapping() -> None:
    assert set(CODECS) == {"akstd", "unipass", "id_ska", "vn_ecosys", "th_dft"}
    assert {c.kind for c in CODECS.values()} == {"xml", "json"}
    assert all(isinstance(c, Codec) for c in CODECS.values())
    assert all(isinstance(CODECS[n], MappedCodec) for n in MAPPINGS)


# -- properties ---------------------------------------------------------------------------


@PROPERTY
@given(co=form_aks)
def test_canonical_dict_round_trip(co: FormAK) -> None:
    data = canonical_to_dict(co)
    assert json.loads(json.dumps(data)) == data  # JSON-safe
    assert canonical_from_dict(json.loads(json.dumps(data))) == co
    assert content_hash(co) == content_hash(canonical_from_dict(data))


@PROPERTY
@given(co=form_aks)
def test_one_dump_gives_the_record_that_normalising_the_model_gave(co: FormAK) -> None:
    """The accept path dumps once and normalises decimals in the dict; the stored JSON and
    the hash must be byte for byte what normalising the Decimals and dumping gave."""
    from ak_bridge.core import canonical

    spelled = _with_trailing_zeros(co)
    for c in (co, spelled):
        body, digest, data = canonical.canonical_record_and_dict(c)
        reference = canonical._dump(canonical_to_dict(canonical._normalised(c, exact=True)))  # noqa: SLF001
        assert body == reference
        assert digest == "v2:" + hashlib.sha256(reference.encode()).hexdigest()
        assert data == canonical_to_dict(c)  # as dumped, for the encoder: not normalised
    assert canonical_record(spelled)[1] == canonical_record(co)[1]


def _with_trailing_zeros(co: FormAK) -> FormAK:
    """``co`` with every goods item's RVC spelled with two more fraction zeros."""
    items = []
    for item in co.items:
        rvc = item.origin.rvc_percent
        if rvc is not None:
            zeros = Decimal(format(rvc, "f") + ("00" if "." in format(rvc, "f") else ".00"))
            item = dataclasses.replace(
                item, origin=dataclasses.replace(item.origin, rvc_percent=zeros)
            )
        items.append(item)
    return dataclasses.replace(co, items=tuple(items))


@pytest.mark.parametrize("name", NAMES)
@PROPERTY
@given(co=form_aks)
def test_decode_inverts_encode(name: str, co: FormAK) -> None:
    codec = CODECS[name]
    assert codec.decode(codec.encode(co)) == co
    payload = wire(codec, co)
    assert unwire(codec, payload) == co
    assert detect_format(payload, CODECS) == name


@pytest.mark.parametrize("name", NAMES)
def test_samples_round_trip_in_every_format(name: str) -> None:
    codec = CODECS[name]
    for src, dst in [("KR", "ID"), ("ID", "KR"), ("VN", "KR"), ("KR", "VN"), ("TH", "KR")]:
        co = sample_form_ak(f"{src}-2026-000001", src, dst, ISSUED, items=3)
        assert unwire(codec, wire(codec, co)) == co


# -- canonical schema -----------------------------------------------------------------------


def test_content_hash_ignores_decimal_spelling_but_not_content() -> None:
    co = sample(1)
    item = co.items[0]
    same = FormAK(
        **{
            **co.__dict__,
            "items": (
                item.__class__(
                    **{
                        **item.__dict__,
                        "origin": OriginCriterion(item.origin.kind, Decimal("40.000")),
                    }
                ),
            ),
        }
    )
    assert content_hash(same) == content_hash(co)
    other = FormAK(**{**co.__dict__, "remarks": "amended"})
    assert content_hash(other) != content_hash(co)
    assert content_hash(co).startswith("v2:") and len(content_hash(co)) == 3 + 64


@pytest.mark.parametrize(
    ("mutate", "box"),
    [
        (lambda d: d.pop("consignee"), "2"),
        (lambda d: d["exporter"].pop("name"), "1"),
        (lambda d: d["items"][0]["origin"].update(kind="XX"), "8"),
        (lambda d: d["items"][0].update(item_no="1"), "5"),
        (lambda d: d["items"][0]["gross_weight"].update(value=1.5), "9"),
        (lambda d: d["items"][0].update(hs_code="8708"), "7"),
        (lambda d: d["items"][0]["invoices"][0].update(date="15/01/2026"), "10"),
        (lambda d: d["declaration"].update(importing_country="CN"), "11"),
        (lambda d: d["certification"].pop("issue_date"), "12"),
        (lambda d: d.update(exhibition="yes"), "13"),
        (lambda d: d.update(items=[]), "5"),
        (lambda d: d.update(surprise=1), "header"),
        (lambda d: d.pop("reference_no"), "header"),
    ],
)
def test_canonical_errors_name_the_box(mutate: Callable[[dict[str, Any]], Any], box: str) -> None:
    data = canonical_to_dict(sample())
    mutate(data)
    with pytest.raises(SchemaViolation) as err:
        canonical_from_dict(data)
    assert err.value.box == box


def test_box_of_path() -> None:
    assert box_of_path(["items", 3, "origin", "rvc_percent"]) == "8"
    assert box_of_path("items.fob.currency") == "9"
    assert box_of_path("declaration") == "11"
    assert box_of_path("nonsense") == "header"


# -- missing boxes in each wire format ------------------------------------------------------


def _drop_xml(ns: str, path: str) -> Callable[[etree._Element], None]:
    def drop(root: etree._Element) -> None:
        el = root.find("/".join(f"{{{ns}}}{p}" for p in path.split("/")))
        assert el is not None, path
        el.getparent().remove(el)

    return drop


def _drop_json(*keys: str | int) -> Callable[[dict[str, Any]], None]:
    def drop(doc: dict[str, Any]) -> None:
        node: Any = doc
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]

    return drop


ID_NS = MAPPINGS["id_ska"]["format"]["namespace"]
TH_NS = MAPPINGS["th_dft"]["format"]["namespace"]

MISSING: list[tuple[str, Callable[[Any], None], str]] = [
    ("akstd", _drop_xml(AKSTD_NS, "Exporter"), "1"),
    ("akstd", _drop_xml(AKSTD_NS, "Consignee/Name"), "2"),
    ("akstd", _drop_xml(AKSTD_NS, "GoodsItem/ShippingMarks"), "6"),
    ("akstd", _drop_xml(AKSTD_NS, "GoodsItem/OriginCriterion"), "8"),
    ("akstd", _drop_xml(AKSTD_NS, "GoodsItem/GrossWeight"), "9"),
    ("akstd", _drop_xml(AKSTD_NS, "GoodsItem/Invoice/IssueDate"), "10"),
    ("akstd", _drop_xml(AKSTD_NS, "ExporterDeclaration"), "11"),
    ("akstd", _drop_xml(AKSTD_NS, "Certification/IssueDate"), "12"),
    ("akstd", _drop_xml(AKSTD_NS, "ExhibitionIndicator"), "13"),
    ("unipass", _drop_xml(UNIPASS_NS, "ExpterNm"), "1"),
    ("unipass", _drop_xml(UNIPASS_NS, "CnsgeNatCd"), "2"),
    ("unipass", _drop_xml(UNIPASS_NS, "CoItemList/CoItem/OrgnCrtrCd"), "8"),
    ("unipass", _drop_xml(UNIPASS_NS, "CoItemList/CoItem/GrsWght"), "9"),
    ("unipass", _drop_xml(UNIPASS_NS, "CoItemList/CoItem/InvcList/Invc/InvcDt"), "10"),
    ("unipass", _drop_xml(UNIPASS_NS, "DclrDt"), "11"),
    ("unipass", _drop_xml(UNIPASS_NS, "IsuDt"), "12"),
    ("unipass", _drop_xml(UNIPASS_NS, "BtbCoYn"), "13"),
    ("id_ska", _drop_xml(ID_NS, "Eksportir/Nama"), "1"),
    ("id_ska", _drop_xml(ID_NS, "DaftarBarang/Barang/KriteriaAsal/Kode"), "8"),
    ("id_ska", _drop_xml(ID_NS, "DaftarBarang/Barang/BeratKotor"), "9"),
    ("id_ska", _drop_xml(ID_NS, "Pengesahan/TanggalTerbit"), "12"),
    ("id_ska", _drop_xml(ID_NS, "DaftarBarang"), "5"),
    ("th_dft", _drop_xml(TH_NS, "CONSIGNEE"), "2"),
    ("th_dft", _drop_xml(TH_NS, "GOODS_LIST/GOODS_ITEM/HS_CODE"), "7"),
    ("th_dft", _drop_xml(TH_NS, "EXPORTER_DECLARATION/SIGNATORY"), "11"),
    ("vn_ecosys", _drop_json("nguoiXuatKhau", "ten"), "1"),
    ("vn_ecosys", _drop_json("hangHoa", 0, "tieuChiXuatXu", "ma"), "8"),
    ("vn_ecosys", _drop_json("hangHoa", 0, "triGiaFOB", "tienTe"), "9"),
    ("vn_ecosys", _drop_json("hangHoa", 1, "hoaDon", 0, "ngayHoaDon"), "10"),
    ("vn_ecosys", _drop_json("xacNhan", "ngayCap"), "12"),
    ("vn_ecosys", _drop_json("hangHoa"), "5"),
]


@pytest.mark.parametrize(("name", "drop", "box"), MISSING)
def test_missing_mandatory_box_is_named(name: str, drop: Callable[[Any], None], box: str) -> None:
    codec = CODECS[name]
    document = codec.encode(sample())
    drop(document)
    with pytest.raises(SchemaViolation) as err:
        codec.decode(document)
    assert err.value.box == box, err.value.detail


def _set_xml(ns: str, path: str, text: str) -> Callable[[etree._Element], None]:
    def put(root: etree._Element) -> None:
        el = root.find("/".join(f"{{{ns}}}{p}" for p in path.split("/")))
        assert el is not None, path
        el.text = text

    return put


def _set_json(value: Any, *keys: str | int) -> Callable[[dict[str, Any]], None]:
    def put(doc: dict[str, Any]) -> None:
        node: Any = doc
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return put


BAD_VALUES: list[tuple[str, Callable[[Any], None], str]] = [
    ("akstd", _set_xml(AKSTD_NS, "GoodsItem/Classification/ID", "87.08"), "7"),
    ("akstd", _set_xml(AKSTD_NS, "GoodsItem/OriginCriterion/Kind", "PE"), "8"),
    ("akstd", _set_xml(AKSTD_NS, "IssuingCountry", "CN"), "header"),
    ("unipass", _set_xml(UNIPASS_NS, "CoItemList/CoItem/OrgnCrtrCd", "CTH+RVC(forty)"), "8"),
    ("unipass", _set_xml(UNIPASS_NS, "IsuDt", "20260231"), "12"),
    ("id_ska", _set_xml(ID_NS, "Pengesahan/TanggalTerbit", "2026-01-15"), "12"),
    ("id_ska", _set_xml(ID_NS, "DaftarBarang/Barang/BeratKotor", "300.0"), "9"),
    ("id_ska", _set_xml(ID_NS, "DaftarBarang/Barang/KriteriaAsal/Kode", "CTH+RVC"), "8"),
    ("th_dft", _set_xml(TH_NS, "BOX13/EXHIBITION", "Y"), "13"),
    ("th_dft", _set_xml(TH_NS, "GOODS_LIST/GOODS_ITEM/ITEM_NO", "one"), "5"),
    ("vn_ecosys", _set_json("2026-01-15", "loiKhai", "ngayKhai"), "11"),
    ("vn_ecosys", _set_json(12.5, "hangHoa", 0, "trongLuongCaBi", "giaTri"), "9"),
    ("vn_ecosys", _set_json("X", "o13", "trienLam"), "13"),
    ("vn_ecosys", _set_json({"ten": "x"}, "hangHoa"), "5"),
]


@pytest.mark.parametrize(("name", "corrupt", "box"), BAD_VALUES)
def test_unconvertible_value_is_named(name: str, corrupt: Callable[[Any], None], box: str) -> None:
    codec = CODECS[name]
    document = codec.encode(sample())
    corrupt(document)
    with pytest.raises(SchemaViolation) as err:
        codec.decode(document)
    assert err.value.box == box, err.value.detail


@pytest.mark.parametrize("name", NAMES)
def test_wrong_payload_kind_is_refused(name: str) -> None:
    codec = CODECS[name]
    other = {"a": 1} if codec.kind == "xml" else etree.Element("x")
    with pytest.raises(SchemaViolation):
        codec.decode(other)  # type: ignore[arg-type]


def test_akstd_hs_edition_must_agree_across_items() -> None:
    codec = CODECS["akstd"]
    root = codec.encode(sample(2))
    editions = root.findall(
        f"{{{AKSTD_NS}}}GoodsItem/{{{AKSTD_NS}}}Classification/{{{AKSTD_NS}}}EditionCode"
    )
    editions[1].text = "HS2017"
    with pytest.raises(SchemaViolation) as err:
        codec.decode(root)
    assert err.value.box == "7"


@pytest.mark.parametrize("name", ["akstd", "unipass"])
def test_signature_is_allowed_as_last_child(name: str) -> None:
    codec = CODECS[name]
    root = codec.encode(sample())
    etree.SubElement(root, f"{{{xmlio.NS_DSIG}}}Signature").text = "opaque"
    assert codec.decode(root) == sample()


def test_comment_inside_text_does_not_cut_it() -> None:
    payload = wire(CODECS["akstd"], sample()).replace(
        b"<ID>KR-2026-AK-000123</ID>", b"<ID>KR-2026-<!-- c -->AK-000123</ID>"
    )
    assert CODECS["akstd"].decode(xmlio.parse_untrusted(payload)) == sample()


# -- unipass criterion code ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "origin"),
    [
        ("WO", {"kind": "WO"}),
        ("WO-AK", {"kind": "WO-AK"}),
        ("RVC(40)", {"kind": "RVC", "rvc_percent": "40"}),
        ("CTH+RVC(40.00)", {"kind": "CTH+RVC", "rvc_percent": "40.00"}),
        ("CTC(CTSH)", {"kind": "CTC", "ctc_level": "CTSH"}),
        ("CTC+RVC(CTH,45.5)", {"kind": "CTC+RVC", "ctc_level": "CTH", "rvc_percent": "45.5"}),
    ],
)
def test_unipass_criterion_code(code: str, origin: dict[str, str]) -> None:
    assert parse_criterion(code) == origin
    assert format_criterion(origin) == code


# -- detect_format ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_detect_format(name: str) -> None:
    payload = wire(CODECS[name], sample())
    assert detect_format(payload, CODECS) == name
    assert detect_format(parse_document(payload), CODECS) == name


@pytest.mark.parametrize(
    "payload",
    [b"<x:Other xmlns:x='urn:other'/>", b'{"formatId": "XX-1"}', b'{"broken": ', b"[1, 2]"],
)
def test_detect_format_refuses_unknown(payload: bytes) -> None:
    with pytest.raises(SchemaViolation):
        detect_format(payload, CODECS)


# -- mapping validation ---------------------------------------------------------------------


def _vn() -> dict[str, Any]:
    return copy.deepcopy(MAPPINGS["vn_ecosys"])


def _id() -> dict[str, Any]:
    return copy.deepcopy(MAPPINGS["id_ska"])


BAD_MAPPINGS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    ("format.kind", lambda: {**_vn(), "format": {"kind": "csv"}}, "xml"),
    ("format.marker_key", lambda: {**_vn(), "format": {"kind": "json"}}, "required"),
    ("format.root", lambda: {**_id(), "format": {"kind": "xml", "namespace": "urn:x"}}, "root"),
    ("surprise", lambda: {**_vn(), "surprise": 1}, "unknown"),
    ("fields", lambda: _without(_vn(), "fields", "exporter.name"), "mandatory"),
    (
        "groups.items",
        lambda: _without(_without(_vn(), "groups", "items.invoices"), "groups", "items"),
        "mandatory",
    ),
    ("fields.exporter.nmae", lambda: _with(_vn(), "fields", "exporter.nmae", "x/y"), "canonical"),
    (
        "fields.remarks.convert",
        lambda: _with(_vn(), "fields", "remarks", {"path": "r", "convert": "ngay"}),
        "date",
    ),
    (
        "fields.remarks.convert",
        lambda: _with(_vn(), "fields", "remarks", {"path": "r", "convert": "nope"}),
        "no converter",
    ),
    ("fields.remarks", lambda: _with(_vn(), "fields", "remarks", "soCO"), "clashes"),
    ("fields.remarks", lambda: _with(_vn(), "fields", "remarks", "vanTai"), "clashes"),
    (
        "converters.ngay.format",
        lambda: _with(_vn(), "converters", "ngay", {"type": "date", "format": "%d/%m"}),
        "round-trip",
    ),
    ("converters.x.type", lambda: _with(_vn(), "converters", "x", {"type": "money"}), "one of"),
    (
        "converters.tieuchi.codes",
        lambda: _with(
            _vn(), "converters", "tieuchi", {"type": "enum", "codes": {"WO": "1", "CTH": "1"}}
        ),
        "share",
    ),
    (
        "converters.tieuchi.codes",
        lambda: _with(_vn(), "converters", "tieuchi", {"type": "enum", "codes": {"PE": "1"}}),
        "not a value",
    ),
    (
        "groups.items.fields",
        lambda: _without(_vn(), "groups", "items", "fields", "fob.currency"),
        "in part",
    ),
    ("groups.items.invoices", lambda: _without(_vn(), "groups", "items"), "parent"),
    (
        "groups.items.fields.marks",
        lambda: _with(_id(), "groups", "items", "fields", "marks", "Faktur/X"),
        "repeated group",
    ),
    (
        "fields.remarks.path",
        lambda: _with(_id(), "fields", "remarks", "Catatan/@bad name"),
        "valid",
    ),
    (
        "converters.yatidak.true",
        lambda: _with(_id(), "converters", "yatidak", {"type": "bool", "true": True, "false": "T"}),
        "strings",
    ),
]


def _with(mapping: dict[str, Any], *keys_and_value: Any) -> dict[str, Any]:
    *keys, last, value = keys_and_value
    node = mapping
    for k in keys:
        node = node[k]
    node[last] = value
    return mapping


def _without(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    node = mapping
    for k in keys[:-1]:
        node = node[k]
    del node[keys[-1]]
    return mapping


@pytest.mark.parametrize(("key", "make", "problem"), BAD_MAPPINGS)
def test_bad_mapping_is_a_config_error(
    key: str, make: Callable[[], dict[str, Any]], problem: str
) -> None:
    mapping = make()
    if key == "groups.items.invoices":  # drop the parent but keep the child group
        mapping["groups"]["items.invoices"] = MAPPINGS["vn_ecosys"]["groups"]["items.invoices"]
    with pytest.raises(ConfigError) as err:
        MappedCodec("xx", mapping, source="config/formats/xx.toml")
    assert err.value.source == "config/formats/xx.toml"
    assert err.value.key == key, err.value
    assert problem in err.value.problem, err.value


def test_build_codecs_refuses_name_and_marker_clashes() -> None:
    with pytest.raises(ConfigError, match="built-in"):
        build_codecs({"akstd": MAPPINGS["id_ska"]})
    with pytest.raises(ConfigError, match="already used"):
        build_codecs({"id_ska": MAPPINGS["id_ska"], "id_copy": MAPPINGS["id_ska"]})


# -- what a format cannot carry -------------------------------------------------------------


def test_unmapped_value_is_a_translation_failure_not_a_silent_drop() -> None:
    mapping = _without(_vn(), "fields", "remarks")
    for key in (
        "third_country_invoicer.name",
        "third_country_invoicer.address",
        "third_country_invoicer.country",
    ):
        del mapping["fields"][key]
    codec = MappedCodec("vn_lite", mapping)
    plain = sample()
    assert codec.decode(codec.encode(plain)) == plain  # what it can carry, it carries
    with pytest.raises(TranslationFailed) as err:
        codec.encode(FormAK(**{**plain.__dict__, "remarks": "note"}))
    assert err.value.box == "header"
    with pytest.raises(TranslationFailed) as err:
        codec.encode(
            FormAK(**{**plain.__dict__, "third_country_invoicer": Party("HK Co", "HK", "HK")})
        )
    assert err.value.box == "7"


def test_enum_without_a_code_is_a_translation_failure() -> None:
    mapping = _with(
        _vn(), "converters", "tieuchi", {"type": "enum", "codes": {"WO": "WO", "CTH": "CTH"}}
    )
    codec = MappedCodec("vn_lite", mapping)
    co = sample(1)
    assert co.items[0].origin.kind is CriterionKind.CTH_RVC
    with pytest.raises(TranslationFailed) as err:
        codec.encode(co)
    assert err.value.box == "8"


# -- sample certificates ---------------------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), [("KR", "ID"), ("ID", "KR"), ("VN", "KR"), ("MY", "KR")])
def test_sample_form_ak_is_realistic(src: str, dst: str) -> None:
    co = sample_form_ak(f"{src}-0001", src, dst, ISSUED, items=4)
    assert canonical_from_dict(canonical_to_dict(co)) == co
    assert (co.issuing_country, co.importing_country, co.issue_date) == (src, dst, ISSUED)
    assert [i.item_no for i in co.items] == [1, 2, 3, 4]
    for item in co.items:
        assert (item.fob is not None) == item.origin.kind.involves_rvc  # box 9 rule
        assert all(inv.date <= ISSUED for inv in item.invoices)
    assert sample_form_ak(f"{src}-0001", src, dst, ISSUED, items=4) == co  # deterministic


def test_sample_form_ak_refuses_non_parties() -> None:
    with pytest.raises(ValueError):
        sample_form_ak("X", "CN", "KR", ISSUED)
    with pytest.raises(ValueError):
        sample_form_ak("X", "KR", "KR", ISSUED)


def test_content_hash_is_exact_beyond_28_digits() -> None:
    """Release 0.1.0 rounded to the context's 28 digits: these two weights hashed alike."""
    co = sample_form_ak("KR-2026-AK-000124", "KR", "VN", date(2026, 3, 2), items=1)

    def weighing(text: str) -> FormAK:
        weight = dataclasses.replace(co.items[0].gross_weight, value=Decimal(text))
        item = dataclasses.replace(co.items[0], gross_weight=weight)
        return dataclasses.replace(co, items=(item,))

    a = weighing("1234567890123456789012345678901.5")
    b = weighing("1234567890123456789012345678902.5")
    assert content_hash(a, version=1) == content_hash(b, version=1)  # the old defect
    assert content_hash(a) != content_hash(b)
    assert content_hash(weighing("12.50")) == content_hash(weighing("12.5000"))


def test_a_stored_hash_is_compared_as_its_own_version_made_it() -> None:
    co = sample_form_ak("KR-2026-AK-000125", "KR", "VN", date(2026, 3, 2), items=2)
    old = content_hash(co, version=1)  # what release 0.1.0 stored
    assert hash_version(old) == 1 and hash_version(content_hash(co)) == 2
    assert same_content(old, co) and same_content(content_hash(co), co)
    changed = dataclasses.replace(co, remarks="amended")
    assert not same_content(old, changed)
