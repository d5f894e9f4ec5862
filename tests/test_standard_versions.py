"""e-Form AK 1.1 beside 1.0 (issue 11): the codec reads and writes both, a partner is sent
the highest version it speaks, and what its version or format cannot carry is refused at
intake, naming the box, with nothing stored."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import zeep
from flows import settle
from lxml import etree

from ak_bridge.config import load_calendars, load_format_mappings, load_settings
from ak_bridge.core import rules
from ak_bridge.core.errors import ConfigError, SchemaViolation, VersionNotLossless
from ak_bridge.core.model import (
    Exhibition,
    FormAK,
    Invoice,
    InvoiceIssuer,
    Quantity,
)
from ak_bridge.core.versions import ALL_1_1, features_1_1, negotiate
from ak_bridge.formats import build_codecs, encode_for, for_versions
from ak_bridge.formats.akstd import NAMESPACES, AkStdCodec
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import PartnerSpec, Topology, build_topology
from ak_bridge.standard.contracts import AMS

ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.now(UTC).date()
CODECS = build_codecs(load_format_mappings(ROOT / "config"))


def plain(ref: str = "KR-2026-AK-110001", importing: str = "TH") -> FormAK:
    return sample_form_ak(ref, "KR", importing, TODAY - timedelta(days=2), items=2)


def with_route(co: FormAK) -> FormAK:
    """Every 1.1 value at once."""
    first = co.items[0]
    return replace(
        co,
        transport=replace(
            co.transport,
            mode="1",
            route="Busan - Singapore (transhipment) - Laem Chabang",
            transit_ports=("SGSIN", "Tanjung Pelepas anchorage"),
            document_no="HDMU-BL-2611-0042",
            document_date=co.transport.departure_date,
        ),
        exhibition_details=Exhibition(
            "Bangkok Auto Expo", "88 Bangna-Trad Road, Bangkok", "TH", TODAY, None, "Siam Motor"
        ),
        certification=replace(co.certification, issuing_body="KCCI"),
        items=(
            replace(
                first,
                gross_weight=None,
                quantity=Quantity(Decimal("1200"), "PCE"),
                description="Brake pads, " + "ceramic compound, " * 60,
                national_tariff_code="8708301000",
                invoices=(Invoice("HK-INV-77", TODAY, InvoiceIssuer("Pearl Trading Ltd", "HK")),),
            ),
            *co.items[1:],
        ),
    )


# -- codec ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_each_version_round_trips_and_says_its_namespace(version: str) -> None:
    co = plain()
    codec = AkStdCodec(version)
    el = codec.encode(co)
    assert etree.QName(el).namespace == NAMESPACES[version]
    assert AkStdCodec("1.0").decode(el) == co  # reading does not depend on the writer
    assert AkStdCodec("1.1").decode(el) == co


def test_every_1_1_value_survives_1_1_and_is_named() -> None:
    co = with_route(plain())
    assert {f.name for f in features_1_1(co)} == ALL_1_1
    codec = AkStdCodec("1.1")
    assert codec.decode(codec.encode(co)) == co
    el = codec.encode(co)
    ns = {"a": NAMESPACES["1.1"]}
    assert el.xpath("a:Transport/a:TransitLocation/a:ID/text()", namespaces=ns) == ["SGSIN"]
    assert el.xpath("a:Transport/a:TransitLocation/a:Name/text()", namespaces=ns) == [
        "Tanjung Pelepas anchorage"
    ]
    assert el.xpath("a:Exhibition/a:CountryCode/text()", namespaces=ns) == ["TH"]


def test_1_0_refuses_a_1_1_value_naming_its_box() -> None:
    with pytest.raises(VersionNotLossless) as exc:
        AkStdCodec("1.0").encode(with_route(plain()))
    assert exc.value.box == "2"  # the first in box order: the exhibition
    assert exc.value.code == "version_not_lossless"
    only_weightless = replace(
        plain(), items=(replace(plain().items[0], gross_weight=None), *plain().items[1:])
    )
    with pytest.raises(VersionNotLossless) as exc:
        AkStdCodec("1.0").encode(only_weightless)
    assert exc.value.box == "9"


@pytest.mark.parametrize("fmt", ["unipass", "id_ska", "vn_ecosys", "th_dft"])
def test_national_formats_and_unipass_carry_no_1_1_value(fmt: str) -> None:
    """Their XSD or mapping has no element for a 1.1 value: refused, never dropped."""
    codec = for_versions(CODECS[fmt], ["1.0", "1.1"])
    with pytest.raises(VersionNotLossless):
        encode_for(codec, with_route(plain()))
    assert codec.decode(encode_for(codec, plain())) == plain()


def test_schema_1_1_box9_needs_weight_or_quantity() -> None:
    el = AkStdCodec("1.1").encode(plain())
    ns = NAMESPACES["1.1"]
    item = el.find(f"{{{ns}}}GoodsItem")
    item.remove(item.find(f"{{{ns}}}GrossWeight"))
    assert item.find(f"{{{ns}}}Quantity") is not None
    assert AkStdCodec().decode(el).items[0].gross_weight is None  # the other quantity is enough
    item.remove(item.find(f"{{{ns}}}Quantity"))
    with pytest.raises(SchemaViolation) as exc:
        AkStdCodec().decode(el)
    assert exc.value.box == "9"


def test_schema_1_1_hs_editions_are_a_list_and_locodes_a_pattern() -> None:
    ns = NAMESPACES["1.1"]
    el = AkStdCodec("1.1").encode(plain())
    el.find(f"{{{ns}}}GoodsItem/{{{ns}}}Classification/{{{ns}}}EditionCode").text = "HS2019"
    with pytest.raises(SchemaViolation) as exc:
        AkStdCodec().decode(el)
    assert exc.value.box == "7"
    el = AkStdCodec("1.1").encode(plain())
    port = el.find(f"{{{ns}}}Transport/{{{ns}}}UnloadingLocation/{{{ns}}}ID")
    port.text = "thlch"
    with pytest.raises(SchemaViolation) as exc:
        AkStdCodec().decode(el)
    assert exc.value.box == "3"


def test_descriptions_of_2000_characters_in_1_1_only() -> None:
    long = replace(plain(), items=(replace(plain().items[0], description="d" * 2000),))
    assert AkStdCodec("1.1").decode(AkStdCodec("1.1").encode(long)) == long
    with pytest.raises(VersionNotLossless) as exc:
        AkStdCodec("1.0").encode(long)
    assert exc.value.box == "7"


# -- negotiation and keys ---------------------------------------------------------------------


def test_negotiation_picks_the_highest_common_version() -> None:
    assert negotiate(["1.0"]) == "1.0"
    assert negotiate(["1.0", "1.1"]) == "1.1"
    assert negotiate(["1.1"]) == "1.1"
    assert for_versions(CODECS["akstd"], ["1.0", "1.1"]).version == "1.1"  # type: ignore[attr-defined]
    assert for_versions(CODECS["unipass"], ["1.1"]) is CODECS["unipass"]


def test_business_key_names_the_issuing_body_only_when_the_document_does() -> None:
    co = plain()
    assert rules.certificate_key(co, "9") == f"KR|{co.reference_no}|9"  # 1.0 keys unchanged
    kcci = replace(co, certification=replace(co.certification, issuing_body="KCCI"))
    kcs = replace(co, certification=replace(co.certification, issuing_body="KCS"))
    assert rules.certificate_key(kcci, "9") == f"KR|KCCI|{co.reference_no}|9"
    assert rules.certificate_key(kcci, "9") != rules.certificate_key(kcs, "9")


# -- through the running bridge ---------------------------------------------------------------

SPECS = (
    PartnerSpec("KR-AK", "KR", "soap", "akstd", AMS, ("1.0", "1.1")),
    PartnerSpec("TH-AK", "TH", "soap", "akstd", AMS, ("1.0", "1.1")),
    PartnerSpec("ID-AK", "ID", "soap", "akstd", AMS),  # 1.0 only (the default)
)


@pytest.fixture
def versions(tmp_path: Path):
    topo = build_topology(tmp_path / "versions", SPECS)
    bridge = topo.start_bridge()
    yield topo, bridge, topo.worker_exchange()
    topo.stop()


def _submit(topo: Topology, co: FormAK, msg_id: str):
    korea = topo.systems["KR-AK"]
    xml, _, _ = korea.document_for(co)
    return korea.submit_soap(topo.bridge_url, AMS, korea.envelope_for(co, msg_id), xml)


def _stored(bridge) -> int:
    return bridge.store.db.execute("SELECT count(*) FROM messages").fetchone()[0]


def test_a_1_1_partner_gets_1_1_and_a_1_0_partner_1_0(versions) -> None:
    topo, bridge, worker = versions
    route = with_route(plain("KR-2026-AK-110002", "TH"))
    assert _submit(topo, route, "KR-1").Status == "accepted"
    down = plain("KR-2026-AK-110003", "ID")
    assert _submit(topo, down, "KR-2").Status == "accepted"
    settle(worker)
    [got_th] = topo.systems["TH-AK"].received
    [got_id] = topo.systems["ID-AK"].received
    assert got_th.certificate == route
    assert etree.QName(etree.fromstring(got_th.raw)).namespace == NAMESPACES["1.1"]
    assert got_id.certificate == down  # sent 1.1 by Korea, translated down losslessly
    assert etree.QName(etree.fromstring(got_id.raw)).namespace == NAMESPACES["1.0"]


def test_what_1_0_cannot_carry_is_refused_at_intake_naming_the_box(versions) -> None:
    topo, bridge, _ = versions
    co = plain("KR-2026-AK-110004", "ID")
    co = replace(co, transport=with_route(co).transport)  # only the route is 1.1
    with pytest.raises(zeep.exceptions.Fault) as exc:
        _submit(topo, co, "KR-3")
    detail = etree.tostring(exc.value.detail).decode()
    assert "version_not_lossless" in detail
    assert ">3<" in detail  # box 3: the route is the first value 1.0 cannot carry
    assert _stored(bridge) == 0  # no receipt, nothing half stored
    rejected = bridge.store.audit_events("rejected", limit=1)
    assert rejected and "version_not_lossless" in str(rejected[0])


def test_partner_versions_are_configured(versions) -> None:
    topo, _, _ = versions
    assert topo.settings.partners["TH-AK"].standard_versions == ("1.0", "1.1")
    assert topo.settings.partners["ID-AK"].standard_versions == ("1.0",)
    partners = topo.workdir / "config" / "partners.toml"
    partners.write_text(partners.read_text().replace('["1.0", "1.1"]', '["1.0", "2.0"]', 1))
    with pytest.raises(ConfigError, match="standard_versions"):
        load_settings(topo.workdir / "config", environ={})


def test_test_topologies_run_with_the_shipped_calendars(topology: Topology) -> None:
    """Issue 11 leftover: the shipped config/calendars.toml, not the default calendar."""
    shipped = load_calendars(ROOT / "config")
    assert shipped.by_country
    assert topology.settings.calendars == shipped


def test_wsdl_readme_no_longer_maps_a_port_of_loading_to_box_3() -> None:
    """Box 3 has no port of loading (review D10): the table says it is an addition."""
    text = (ROOT / "wsdl" / "README.md").read_text("utf-8")
    assert "| 3 port of loading |" not in text
    assert "Box 3 has **no** port of loading" in text
