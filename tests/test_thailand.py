"""Thailand joins without Python: a partner table, a certificate and ``config/formats/th_dft.toml``.

The claim of the design ("a new partner country is a partner entry, its certificate and, if
its format is new, a mapping file: not code") is tested end to end: KCS submits over SOAP,
the bridge translates UNI-PASS into Thailand's DFT XML through the mapping file alone, signs
it and delivers it; the simulated Thai system verifies the bridge's signature and decodes
the very same certificate. And the other way, Thailand to Korea. No module of the bridge
knows Thailand by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from ak_bridge.security.signing import Verifier, load_trusted
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import PILOT, THAILAND, Topology, build_topology
from ak_bridge.standard.contracts import AMS, KCS

TODAY = datetime.now(UTC).date()
PACKAGE = Path(__file__).resolve().parent.parent / "ak_bridge"
TH_ROOT = "{urn:th:go:dft:eco:formak:1}DFT_ECO_FORM_AK"  # from config/formats/th_dft.toml


@pytest.fixture
def thai_topology(tmp_path: Path) -> Iterator[Topology]:
    topo = build_topology(tmp_path / "exchange", PILOT + (THAILAND,))
    yield topo
    topo.stop()


def _settle(worker: Exchange) -> None:
    for _ in range(20):
        if not worker.deliver_due().attempted:
            return


def test_korea_to_thailand_end_to_end(thai_topology: Topology) -> None:
    topo = thai_topology
    topo.start_bridge()
    worker = topo.worker_exchange()
    kcs, thailand = topo.systems["KR-KCS"], topo.systems["TH-DFT"]
    co = sample_form_ak("KR-2026-BS-007001", "KR", "TH", TODAY, items=3)

    xml, _, _ = kcs.document_for(co)
    reply = kcs.submit_soap(topo.bridge_url, KCS, kcs.envelope_for(co, "KCS-TH-1"), xml)
    assert reply.PrcsRsltCd == "accepted"
    _settle(worker)

    assert [r.message_id for r in thailand.received] == [reply.MsgId]
    got = thailand.received[0]
    assert got.certificate == co  # identical after UNI-PASS -> canonical -> Thai DFT XML
    signed = Verifier(load_trusted([topo.settings.identity_cert])).verify(got.raw)
    assert signed.tag == TH_ROOT
    assert thailand.errors == []


def test_thailand_to_korea_end_to_end(thai_topology: Topology) -> None:
    topo = thai_topology
    topo.start_bridge()
    worker = topo.worker_exchange()
    thailand, kcs = topo.systems["TH-DFT"], topo.systems["KR-KCS"]
    co = sample_form_ak("TH-DFT-AK-2026-118204", "TH", "KR", TODAY, items=2)

    xml, _, _ = thailand.document_for(co)
    assert etree.fromstring(xml).tag == TH_ROOT
    reply = thailand.submit_soap(topo.bridge_url, AMS, thailand.envelope_for(co, "TH-1"), xml)
    assert reply.Status == "accepted"
    _settle(worker)

    assert [r.certificate for r in kcs.received] == [co]


def test_no_bridge_module_knows_thailand() -> None:
    """Only the simulators (ak_bridge/sim) name it; the bridge reads it from config."""
    for path in PACKAGE.rglob("*.py"):
        if "sim" in path.relative_to(PACKAGE).parts:
            continue
        text = path.read_text("utf-8").lower()
        for name in ("th_dft", "dft_eco", "th-dft", "thailand"):
            assert name not in text, f"{path} mentions {name}"
