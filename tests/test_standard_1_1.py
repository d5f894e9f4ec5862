"""e-Form AK 1.1 beside 1.0 (issue 11 points 8, 10, 11 and version negotiation).

The XSD, the codec (both versions read, the namespace decides), the Box 9 rule, what 1.0,
UNI-PASS and the national mappings cannot carry (version_not_lossless, naming the box), the
CO key with its issuing body, and the partners' ``standard_versions`` end to end.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree
from strategies import form_aks_1_1

from ak_bridge.core import rules, versions
from ak_bridge.core.canonical import canonical_from_dict, canonical_to_dict
from ak_bridge.core.errors import ConfigError, SchemaViolation, VersionNotLossless
from ak_bridge.core.model import FormAK, MessageFunction, Quantity
from ak_bridge.core.rules import RuleContext
from ak_bridge.formats import MappedCodec, UnipassCodec, build_codecs, codec_for
from ak_bridge.formats.akstd import NAMESPACES, AkStdCodec
from ak_bridge.security import xmlio
from ak_bridge.sim.certificates import sample_form_ak, sample_form_ak_1_1
from ak_bridge.sim.topology import PartnerSpec, build_topology

ISSUED = date(2026, 11, 20)
V10, V11 = AkStdCodec("1.0"), AkStdCodec("1.1")
MAPPINGS = {
    p.stem: tomllib.loads(p.read_text(encoding="utf-8"))
    for p in sorted(Path("config/formats").glob("*.toml"))
}


def co11(ref: str = "KR-2026-AK-001100") -> FormAK:
    return sample_form_ak_1_1(ref, "KR", "VN", ISSUED)


def reparse(el: etree._Element) -> etree._Element:
    return xmlio.parse_untrusted(xmlio.to_bytes(el))


def find(el: etree._Element, path: str) -> etree._Element:
    ns = etree.QName(el).namespace
    found = el.find("/".join(f"{{{ns}}}{p}" for p in path.split("/")))
    assert found is not None, path
    return found


# -- the 1.1 document ---------------------------------------------------------------------


def test_a_1_1_document_round_trips_every_addition() -> None:
    co = co11()
    el = V11.encode(co)
    assert etree.QName(el).namespace == NAMESPACES["1.1"]
    back = V10.decode(reparse(el))  # any akstd codec reads both: the namespace decides
    assert back == co
    assert back.transport.transit_locodes == ("SGSIN",)
    assert back.items[1].gross_weight is None and back.items[1].quantity is not None
    assert back.items[0].invoices[0].issuer_country == "KR"
    assert back.exhibition_details is not None and back.exhibition_details.country == "SG"
    assert len(back.items[0].description) == 2000
    assert back.issuing_body == "KCS"


def test_1_0_stays_readable_and_sendable() -> None:
    co = sample_form_ak("KR-2026-AK-001101", "KR", "VN", ISSUED)
    for codec in (V10, V11):
        el = codec.encode(co)
        assert etree.QName(el).namespace == NAMESPACES[codec.version]
        assert AkStdCodec().decode(reparse(el)) == co


def test_box_9_gross_weight_is_optional_in_1_1_only() -> None:
    """Point 8: "gross weight or other quantity"."""
    co = co11()
    el = V11.encode(dataclasses.replace(co, items=co.items[1:]))
    assert V11.decode(reparse(el)).items[0].gross_weight is None
    old = V10.encode(sample_form_ak("KR-2026-AK-001102", "KR", "VN", ISSUED))
    find(old, "GoodsItem").remove(find(old, "GoodsItem/GrossWeight"))
    with pytest.raises(SchemaViolation) as err:
        V10.decode(reparse(old))
    assert err.value.box == "9"


def test_box_9_needs_a_gross_weight_or_another_quantity() -> None:
    co = co11()
    bare = dataclasses.replace(co.items[1], gross_weight=None, quantity=None)
    ctx = RuleContext(today=ISSUED)
    found = rules.check(dataclasses.replace(co, items=(co.items[0], bare)), ctx)
    errors = [f for f in rules.errors_in(found) if f.code == "quantity_missing"]
    assert [(f.code, f.box) for f in errors] == [("quantity_missing", "9")]
    assert not [f for f in rules.check(co, ctx) if f.code == "quantity_missing"]
    with_qty = dataclasses.replace(bare, quantity=Quantity(Decimal(3), "MTQ"))
    assert not [
        f
        for f in rules.check(dataclasses.replace(co, items=(co.items[0], with_qty)), ctx)
        if f.code == "quantity_missing"
    ]


@pytest.mark.parametrize(
    ("path", "value", "box"),
    [
        ("GoodsItem/Description", "x" * 2001, "7"),
        ("GoodsItem/Classification/EditionCode", "HS2002", "7"),  # enumerated editions
        ("Transport/UnloadingLocationID", "VNSG1", "3"),  # UN/LOCODE: digits 2-9 only
        ("Transport/TransitLocationID", "sgsin", "3"),
        ("Transport/ModeCode", "12", "3"),  # UN/ECE Rec 19: one digit
        ("GoodsItem/Classification/NationalTariffCode", "8708.99", "7"),
    ],
)
def test_the_1_1_schema_refuses_naming_the_box(path: str, value: str, box: str) -> None:
    el = V11.encode(co11())
    find(el, path).text = value
    with pytest.raises(SchemaViolation) as err:
        V11.decode(reparse(el))
    assert err.value.box == box


def test_1_0_keeps_its_limits() -> None:
    """HS2002 is still a 1.0 edition shape; a 513-character description is not 1.0."""
    el = V10.encode(sample_form_ak("KR-2026-AK-001103", "KR", "VN", ISSUED, items=1))
    find(el, "GoodsItem/Classification/EditionCode").text = "HS2002"
    V10.decode(reparse(el))
    find(el, "GoodsItem/Description").text = "x" * 513
    with pytest.raises(SchemaViolation) as err:
        V10.decode(reparse(el))
    assert err.value.box == "7"


def test_an_exhibition_abroad_has_its_own_element_not_the_consignee() -> None:
    co = dataclasses.replace(
        co11(), exhibition_details=dataclasses.replace(co11().exhibition_details, country="DE")
    )
    back = V11.decode(reparse(V11.encode(co)))
    assert back.exhibition_details is not None and back.exhibition_details.country == "DE"
    assert back.consignee.country == "VN"


# -- the CO key -----------------------------------------------------------------------------


def test_the_issuing_body_is_part_of_a_1_1_key_and_1_0_keys_are_unchanged() -> None:
    old = sample_form_ak("KR-2026-AK-001104", "KR", "VN", ISSUED)
    assert old.business_key("9") == "KR|KR-2026-AK-001104|9"  # what stored rows hold
    kcs = dataclasses.replace(old, issuing_body="KCS")
    kcci = dataclasses.replace(old, issuing_body="KCCI")
    assert kcs.business_key("9") == "KR|KCS|KR-2026-AK-001104|9"
    assert len({old.business_key("9"), kcs.business_key("9"), kcci.business_key("9")}) == 3


# -- what each format carries -----------------------------------------------------------------


def test_1_0_refuses_each_1_1_feature_naming_its_box() -> None:
    full = co11()
    plain = sample_form_ak("KR-2026-AK-001100", "KR", "VN", ISSUED)
    cases: dict[str, tuple[FormAK, str]] = {
        "route": (
            dataclasses.replace(
                plain, transport=dataclasses.replace(plain.transport, route="via SGSIN")
            ),
            "3",
        ),
        "issuer": (
            dataclasses.replace(
                plain,
                items=(
                    dataclasses.replace(
                        plain.items[0],
                        invoices=(
                            dataclasses.replace(plain.items[0].invoices[0], issuer_country="HK"),
                        ),
                    ),
                    *plain.items[1:],
                ),
            ),
            "10",
        ),
        "exhibition": (
            dataclasses.replace(plain, exhibition_details=full.exhibition_details),
            "2",
        ),
        "description": (
            dataclasses.replace(
                plain, items=(dataclasses.replace(plain.items[0], description="d" * 513),)
            ),
            "7",
        ),
        "body": (dataclasses.replace(plain, issuing_body="KCCI"), "12"),
        "weight": (dataclasses.replace(plain, items=full.items[1:]), "9"),
    }
    id_ska = MappedCodec("id_ska", MAPPINGS["id_ska"])
    for what, (co, box) in cases.items():
        # a national mapping has no length or cardinality of its own: the canonical schema
        # (2,000 characters, gross weight optional) decides, so it carries those two
        refusing = (
            (V10, UnipassCodec())
            if what in ("description", "weight")
            else (V10, UnipassCodec(), id_ska)
        )
        for codec in refusing:
            with pytest.raises(VersionNotLossless) as err:
                codec.encode(co)
            assert (err.value.code, err.value.box) == ("version_not_lossless", box), what
        if id_ska not in refusing:
            assert id_ska.decode(id_ska.encode(co)) == co
        assert V11.decode(V11.encode(co)) == co  # 1.1 carries it


def test_a_national_mapping_carries_what_it_maps() -> None:
    mapping = copy.deepcopy(MAPPINGS["vn_ecosys"])
    mapping["fields"]["transport.route"] = "tuyenDuong"
    mapping["fields"]["transport.transit_locodes"] = "cangTrungChuyen"
    codec = MappedCodec("vn_route", mapping)
    assert "transport_route" in codec.carries
    assert "transport_route" not in MappedCodec("vn_ecosys", MAPPINGS["vn_ecosys"]).carries
    plain = sample_form_ak("VN-KR 26/11/01105", "VN", "KR", ISSUED)
    co = dataclasses.replace(
        plain,
        transport=dataclasses.replace(
            plain.transport, route="via SGSIN", transit_locodes=("SGSIN", "MYPKG")
        ),
    )
    assert codec.decode(codec.encode(co)) == co


def test_negotiation_picks_the_highest_common_version() -> None:
    assert versions.negotiate(["1.0"]) == "1.0"
    assert versions.negotiate(["1.1", "1.0"]) == "1.1"
    assert versions.negotiate(["1.1"]) == "1.1"
    codecs = build_codecs({})
    topo_partner: Any = dataclasses.make_dataclass(
        "P", [("format", str), ("standard_versions", tuple)]
    )
    assert codec_for(codecs, topo_partner("akstd", ("1.0", "1.1"))).version == "1.1"
    assert codec_for(codecs, topo_partner("akstd", ("1.0",))).version == "1.0"
    assert codec_for(codecs, topo_partner("unipass", ("1.0", "1.1"))) is codecs["unipass"]


# -- configuration and the exchange ---------------------------------------------------------

LANE = (
    PartnerSpec("TH-AK", "TH", "rest", "akstd", None),
    PartnerSpec("KR-AK", "KR", "rest", "akstd", None),
)


def _lane(tmp_path: Path, kr_versions: str, th_versions: str = '["1.0", "1.1"]') -> Any:
    return build_topology(
        tmp_path / "lane",
        LANE,
        partner_lines={
            "TH-AK": f"standard_versions = {th_versions}\n",
            "KR-AK": f"standard_versions = {kr_versions}\n",
        },
    )


def test_standard_versions_default_and_checked(tmp_path: Path) -> None:
    topo = build_topology(tmp_path / "default", LANE)
    try:
        assert topo.settings.partners["KR-AK"].standard_versions == ("1.0",)
    finally:
        topo.stop()
    with pytest.raises(ConfigError) as err:
        _lane(tmp_path, '["1.0", "2.0"]')
    assert "standard_versions" in str(err.value)


def _send(topo: Any, co: FormAK) -> Any:
    th = topo.systems["TH-AK"]
    th.codec = V11
    return th.submit(topo.bridge_url, co, f"TH-{co.reference_no}")


TODAY = datetime.now(UTC).date() - timedelta(days=1)


def test_a_1_0_only_destination_refuses_what_it_cannot_carry_at_intake(tmp_path: Path) -> None:
    topo = _lane(tmp_path, '["1.0"]')
    try:
        bridge = topo.start_bridge()
        co = sample_form_ak_1_1("TH-2026-0001106", "TH", "KR", TODAY)
        resp = _send(topo, co)
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert (error["code"], error["box"]) == ("version_not_lossless", "2")
        assert "Box 3: the route and transit ports" in error["message"]
        assert bridge.store.find_messages() == []
        assert bridge.store.certificate("TH", co.reference_no) is None
        assert bridge.store.audit_events("rejected")[0].code == "version_not_lossless"
        plain = sample_form_ak("TH-2026-0001107", "TH", "KR", TODAY)
        ok = _send(topo, plain)  # a CO 1.0 can carry goes, as 1.0
        assert ok.status_code == 200, ok.text
        message = bridge.store.message_by_key("TH|TH-2026-0001107|9")  # the 1.0 key
        assert message is not None
        (delivery,) = bridge.store.deliveries_for(message.id)
        assert NAMESPACES["1.0"].encode() in delivery.payload
    finally:
        topo.stop()


def test_a_1_1_destination_gets_1_1_and_the_key_has_the_issuing_body(tmp_path: Path) -> None:
    topo = _lane(tmp_path, '["1.0", "1.1"]')
    try:
        bridge = topo.start_bridge()
        co = sample_form_ak_1_1("TH-2026-0001108", "TH", "KR", TODAY)
        resp = _send(topo, co)
        assert resp.status_code == 200, resp.text
        message = bridge.store.message_by_key(f"TH|{co.issuing_body}|TH-2026-0001108|9")
        assert message is not None
        assert bridge.store.message_by_key("TH|TH-2026-0001108|9") is None
        (delivery,) = bridge.store.deliveries_for(message.id)
        assert NAMESPACES["1.1"].encode() in delivery.payload
        sent = V11.decode(xmlio.parse_untrusted(delivery.payload))
        assert sent == co
    finally:
        topo.stop()


def test_a_1_1_document_from_a_1_0_only_partner_is_refused(tmp_path: Path) -> None:
    topo = _lane(tmp_path, '["1.0", "1.1"]', th_versions='["1.0"]')
    try:
        bridge = topo.start_bridge()
        resp = _send(topo, sample_form_ak("TH-2026-0001109", "TH", "KR", TODAY))
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert (error["code"], error["box"]) == ("schema_violation", "header")
        assert "standard_versions" in error["message"]
        assert bridge.store.find_messages() == []
    finally:
        topo.stop()


def test_test_topologies_copy_the_shipped_calendars(tmp_path: Path) -> None:
    """Leftover of issue 11: tests count working days on the calendars operators run with."""
    topo = build_topology(tmp_path / "cal", LANE)
    try:
        assert (topo.workdir / "config" / "calendars.toml").is_file()
        shipped = tomllib.loads(Path("config/calendars.toml").read_text(encoding="utf-8"))
        kr_holidays = shipped["calendars"]["KR"]["holidays"]
        assert topo.settings.calendars.of("KR").is_working_day(kr_holidays[0]) is False
    finally:
        topo.stop()


def test_function_of_a_1_1_co_is_still_implied_by_its_content() -> None:
    assert rules.implied_function(co11()) is MessageFunction.ORIGINAL


SAMPLES = Path("wsdl/samples")


def test_every_akstd_sample_has_a_1_1_twin_with_the_same_certificate() -> None:
    """make-samples writes both versions; the twin is the same CO, only the version differs."""
    old = sorted(SAMPLES.glob("*.akstd.xml"))
    assert old
    for path in old:
        twin = SAMPLES / "1.1" / path.name
        el = xmlio.parse_untrusted(twin.read_bytes())
        assert etree.QName(el).namespace == NAMESPACES["1.1"]
        xmlio.validate(el, "akstd/eformak-1.1.xsd", {})
        assert V11.decode(el) == V10.decode(xmlio.parse_untrusted(path.read_bytes()))
    full = xmlio.parse_untrusted(
        (SAMPLES / "1.1" / "certificate-kr-vn-1.1-fields.akstd.xml").read_bytes()
    )
    assert {f.name for f in versions.features_used(V11.decode(full))} == versions.ALL_1_1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(co=form_aks_1_1)
def test_1_1_carries_every_valid_certificate(co: FormAK) -> None:
    """Every 1.1 shape round-trips through the canonical JSON and the 1.1 XML; 1.0 carries it
    exactly when it uses no 1.1 feature, else refuses with version_not_lossless."""
    assert canonical_from_dict(canonical_to_dict(co)) == co
    assert V11.decode(reparse(V11.encode(co))) == co
    if versions.features_used(co):
        with pytest.raises(VersionNotLossless):
            V10.encode(co)
    else:
        assert V10.decode(reparse(V10.encode(co))) == co


def test_an_hs_edition_1_1_does_not_list_is_not_lossless() -> None:
    co = dataclasses.replace(
        sample_form_ak("KR-2026-AK-001110", "KR", "VN", ISSUED), hs_edition="HS2002"
    )
    assert V10.decode(reparse(V10.encode(co))) == co
    with pytest.raises(VersionNotLossless) as err:
        V11.encode(co)
    assert err.value.box == "7"
