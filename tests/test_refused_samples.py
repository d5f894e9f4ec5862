"""The committed messages 1.1 the bridge refuses (``wsdl/samples/refused-1.1/``), sent to a
running bridge by the partner their README row names: each is answered with exactly the
code, finding and box that row gives, audited, and nothing is stored.

The README table is what a partner's developer reads, so it is the expectation here: a row
that says something else than the bridge answers fails, and so does a file without a row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flows import settle

from ak_bridge.formats.lifecycle import LifecycleCodec
from ak_bridge.security import xmlio
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import PILOT, Topology, build_topology

SAMPLES = Path(__file__).resolve().parent.parent / "wsdl" / "samples"
ROW = re.compile(
    r"^\| `(refused-1\.1/[^`]+)` \| [^|]+ \| ([A-Z]{2}-[A-Z-]+) \| (\d{3}) \| `([a-z_]+)` \| "
    r"(?:`([a-z_]+)`|-) \| (\w+) \|$",
    re.MULTILINE,
)
# Certificates the refused messages are about, sent first as their issuers send them, and
# the valid messages that bring each where the refused one would come.
CERTIFICATES = (
    ("KR-KCS", "certificate-kr-vn.unipass.xml"),
    ("KR-KCS", "replacement-kr-vn.unipass.xml"),  # KR-2026-BS-004712, the corrected CO
    ("ID-SKA", "certificate-id-kr.id_ska.xml"),  # the coffee CO, 3 items
)
MESSAGES = (
    ("VN-ECOSYS", "messages/customs-response.xml"),  # item 2 of the corrected CO refused
    ("KR-KCS", "messages/verification-request.xml"),  # the coffee CO under verification
)


@dataclass(frozen=True)
class Row:
    path: str
    sender: str
    status: str
    code: str
    finding: str | None
    box: str


ROWS = [Row(*m.groups()) for m in ROW.finditer((SAMPLES / "README.md").read_text("utf-8"))]


def test_every_refused_sample_has_its_row() -> None:
    files = sorted(str(p.relative_to(SAMPLES)) for p in (SAMPLES / "refused-1.1").glob("*.xml"))
    assert files and sorted(r.path for r in ROWS) == files


def _send(topo: Topology, sender: str, path: Path, header_of: Any, message_id: str) -> Any:
    """``path``'s committed bytes, signed by ``sender`` and sent over REST."""
    system = topo.systems[sender]
    root = xmlio.parse_untrusted(path.read_bytes())
    envelope = system.envelope_for(header_of(root), message_id)
    return system.submit_rest(topo.bridge_url, envelope, document_xml=system.signer.sign(root))


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Exchange]]:
    """Every pilot partner speaking 1.1, the samples' certificates accepted and delivered."""
    specs = tuple(replace(s, standard_versions=("1.0", "1.1")) for s in PILOT)
    topo = build_topology(tmp_path_factory.mktemp("refused"), specs)
    try:
        bridge = topo.start_bridge()
        for sender, name in CERTIFICATES:
            codec = topo.systems[sender].codec
            reply = _send(topo, sender, SAMPLES / name, codec.decode, f"{sender}-{name}")
            assert (reply.status_code, reply.json()["status"]) == (200, "accepted"), reply.text
        settle(topo.worker_exchange())
        decode = LifecycleCodec().decode
        for sender, name in MESSAGES:
            reply = _send(topo, sender, SAMPLES / name, decode, f"{sender}-{name}")
            assert (reply.status_code, reply.json()["status"]) == (200, "accepted"), reply.text
        yield topo, bridge
    finally:
        topo.stop()


def _valid_sibling(root: Any) -> Any:
    """The valid sample of the same message: the header to send is the one it travels with."""
    codec = LifecycleCodec()
    for path in (SAMPLES / "messages").glob("*.xml"):
        valid = xmlio.parse_untrusted(path.read_bytes())
        if valid.tag == root.tag:
            return codec.decode(valid)
    raise AssertionError(f"no valid sample of {root.tag}")


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.path)
def test_the_bridge_answers_what_the_readme_says(
    exchange: tuple[Topology, Exchange], row: Row
) -> None:
    topo, bridge = exchange
    stored = len(bridge.store.find_messages())
    reply = _send(topo, row.sender, SAMPLES / row.path, _valid_sibling, f"{row.sender}-{row.path}")
    assert reply.status_code == int(row.status), reply.text
    error = reply.json()["error"]
    assert (error["code"], error["box"]) == (row.code, row.box), error
    errors = [f["code"] for f in error.get("findings") or [] if f["severity"] == "error"]
    assert errors == [row.finding or row.code], error  # a refusal is its own finding
    [audited] = bridge.store.audit_events("rejected", limit=1)
    assert (audited.code, audited.box, audited.partner) == (row.code, row.box, row.sender)
    assert len(bridge.store.find_messages()) == stored  # nothing stored
