"""Small helpers the exchange tests share: send as a partner, let the worker settle, read a
CO's state. Everything they touch is real (simulated partners on loopback, the bridge)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ak_bridge.core.model import FormAK
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import PILOT, Topology, build_topology

# Korea and Viet Nam speak e-Form AK 1.1 (its messages need it); Indonesia only 1.0.
SPEAKING_11 = ("KR-KCS", "VN-ECOSYS")
PILOT_11 = tuple(
    replace(s, standard_versions=("1.0", "1.1")) if s.partner_id in SPEAKING_11 else s
    for s in PILOT
)


@contextmanager
def pilot_11(workdir: Path) -> Iterator[Topology]:
    """The pilot exchange where Korea and Viet Nam speak 1.1 (Indonesia 1.0 only)."""
    topo = build_topology(workdir, PILOT_11)
    try:
        yield topo
    finally:
        topo.stop()


def kcs_sends(topo: Topology, doc: Any, message_id: str) -> Any:
    return topo.systems["KR-KCS"].submit(topo.bridge_url, doc, message_id)


def vn_sends(topo: Topology, doc: Any, message_id: str) -> Any:
    return topo.systems["VN-ECOSYS"].submit(topo.bridge_url, doc, message_id)


def settle(worker: Exchange, sweeps: int = 20) -> None:
    """Deliver until a sweep finds nothing due (a retry scheduled later is left waiting)."""
    for _ in range(sweeps):
        if not worker.deliver_due().attempted:
            return


def state(bridge: Exchange, ref: str, country: str = "KR") -> str:
    return bridge.status(country, ref)["state"]


def issue_kr_vn(topo: Topology, worker: Exchange, reference_no: str) -> FormAK:
    """A KR→VN certificate, accepted from KCS and delivered to Viet Nam."""
    co = sample_form_ak(reference_no, "KR", "VN", datetime.now(UTC).date() - timedelta(days=2))
    assert kcs_sends(topo, co, "K-issue").PrcsRsltCd == "accepted"
    settle(worker)
    assert [r.certificate for r in topo.systems["VN-ECOSYS"].received] == [co]
    return co
