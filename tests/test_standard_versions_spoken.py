"""What a partner's ``standard_versions`` also decides (issue 11, version negotiation):
it may only send the versions it speaks, and a 1.0 HS edition 1.1 does not list is not
carried to a 1.1 partner as a late translation failure but refused as not lossless."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zeep
from hypothesis import HealthCheck, given, settings
from lxml import etree
from strategies import form_aks_1_1

from ak_bridge.core.canonical import canonical_from_dict, canonical_to_dict
from ak_bridge.core.errors import VersionNotLossless
from ak_bridge.core.model import FormAK
from ak_bridge.core.versions import features_1_1
from ak_bridge.formats import build_codecs, encode_for, for_versions
from ak_bridge.formats.akstd import AkStdCodec
from ak_bridge.security import xmlio
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import PartnerSpec, build_topology
from ak_bridge.standard.contracts import AMS

TODAY = datetime.now(UTC).date() - timedelta(days=1)


def test_an_hs_edition_1_1_does_not_list_is_not_lossless_for_a_1_1_partner() -> None:
    co = replace(sample_form_ak("KR-2026-AK-120001", "KR", "TH", TODAY), hs_edition="HS2002")
    akstd = build_codecs({})["akstd"]
    encode_for(for_versions(akstd, ["1.0"]), co)  # 1.0 takes any HS + 4 digits
    with pytest.raises(VersionNotLossless) as err:
        encode_for(for_versions(akstd, ["1.0", "1.1"]), co)
    assert (err.value.code, err.value.box) == ("version_not_lossless", "7")


def test_a_partner_sends_only_the_versions_it_speaks(tmp_path: Path) -> None:
    specs = (
        PartnerSpec("ID-AK", "ID", "soap", "akstd", AMS),  # 1.0 only (the default)
        PartnerSpec("KR-AK", "KR", "soap", "akstd", AMS, ("1.0", "1.1")),
    )
    topo = build_topology(tmp_path / "spoken", specs)
    try:
        bridge = topo.start_bridge()
        indonesia = topo.systems["ID-AK"]
        co = sample_form_ak("ID-2026-AK-120002", "ID", "KR", TODAY)
        v11 = indonesia.signer.sign(AkStdCodec().at_version("1.1").encode(co))
        with pytest.raises(zeep.exceptions.Fault) as exc:
            indonesia.submit_soap(topo.bridge_url, AMS, indonesia.envelope_for(co, "ID-1"), v11)
        detail = etree.tostring(exc.value.detail).decode()
        assert "schema_violation" in detail and "standard_versions" in str(exc.value.message)
        assert bridge.store.find_messages() == []
        xml, _, _ = indonesia.document_for(co)  # the same certificate in 1.0 goes
        reply = indonesia.submit_soap(topo.bridge_url, AMS, indonesia.envelope_for(co, "ID-2"), xml)
        assert reply.Status == "accepted"
    finally:
        topo.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(co=form_aks_1_1)
def test_1_1_carries_every_valid_certificate_and_1_0_exactly_the_1_0_ones(co: FormAK) -> None:
    """Every 1.1 shape round-trips through the canonical JSON and the 1.1 XML (as sent);
    1.0 carries it exactly when it uses no 1.1 value, else it is version_not_lossless."""
    akstd = build_codecs({})["akstd"]
    assert canonical_from_dict(canonical_to_dict(co)) == co
    v11 = for_versions(akstd, ["1.1"])
    assert akstd.decode(xmlio.parse_untrusted(xmlio.to_bytes(v11.encode(co)))) == co
    v10 = for_versions(akstd, ["1.0"])
    if list(features_1_1(co)):
        with pytest.raises(VersionNotLossless):
            v10.encode(co)
    else:
        assert akstd.decode(xmlio.parse_untrusted(xmlio.to_bytes(v10.encode(co)))) == co
