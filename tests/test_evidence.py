"""Evidence packs: made from a real exchange, verified offline, and tampering is caught."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from ak_bridge.cli import cli
from ak_bridge.core.model import CustomsResponse, ItemDecision, PreferenceDecision
from ak_bridge.ops.evidence import verify_pack
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import KCS

TODAY = datetime.now(UTC).date()


def _exchange_a_co_with_its_history(topology: Topology, worker: Exchange) -> str:
    kcs, vn = topology.systems["KR-KCS"], topology.systems["VN-ECOSYS"]
    co = sample_form_ak("KR-2026-AK-009001", "KR", "VN", TODAY - timedelta(days=1))
    xml, _, _ = kcs.document_for(co)
    kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K-ev1"), xml)
    fixed = dataclasses.replace(
        co,
        reference_no="KR-2026-AK-009002",
        replaces_reference_no=co.reference_no,
        original_issue_date=co.issue_date,
    )
    xml, _, _ = kcs.document_for(fixed)
    kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(fixed, "K-ev2"), xml)
    worker.deliver_due()
    worker.deliver_due()
    response = CustomsResponse(
        fixed.reference_no,
        "KR",
        "VN",
        "VN-IMP-77",
        TODAY,
        (ItemDecision(1, PreferenceDecision.GIVEN), ItemDecision(2, PreferenceDecision.GIVEN)),
    )
    xml, _, _ = vn.document_for(response)
    resp = vn.submit_rest(topology.bridge_url, vn.envelope_for(response, "VN-ev"), document_xml=xml)
    assert resp.status_code == 200, resp.text
    worker.deliver_due()
    return fixed.reference_no


def test_pack_holds_the_whole_history_and_verifies_offline(
    topology: Topology, bridge: Exchange, worker: Exchange, tmp_path: Path
) -> None:
    ref = _exchange_a_co_with_its_history(topology, worker)
    out = tmp_path / "pack.zip"
    config = str(topology.settings.root / "config")
    result = CliRunner().invoke(
        cli, ["--config", config, "evidence", "export", "KR", ref, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert manifest["certificate"]["state"] == "PREFERENCE_GIVEN"
    # the original, its replacement and the customs response, each as received and as sent
    assert [m["reference_no"] for m in manifest["messages"]] == ["KR-2026-AK-009001", ref, ref]
    assert all(m["received"] and len(m["sent"]) == 1 for m in manifest["messages"])
    result = CliRunner().invoke(cli, ["evidence", "verify", str(out)])
    assert result.exit_code == 0, result.output
    assert "every signature verifies" in result.output


def _rewrite(pack: bytes, name: str, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(pack))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, change(data) if item == name else data)
    return buf.getvalue()


def test_tampering_with_any_part_of_a_pack_is_caught(
    topology: Topology, bridge: Exchange, worker: Exchange, tmp_path: Path
) -> None:
    ref = _exchange_a_co_with_its_history(topology, worker)
    out = tmp_path / "pack.zip"
    config = str(topology.settings.root / "config")
    CliRunner().invoke(
        cli, ["--config", config, "evidence", "export", "KR", ref, "--out", str(out)]
    )
    pack = out.read_bytes()
    assert verify_pack(pack) == []
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(pack)).read("manifest.json"))
    received = manifest["messages"][0]["received"]
    sent = manifest["messages"][0]["sent"][0]["file"]
    audit = f"messages/{manifest['messages'][0]['id']}/audit.json"

    # a received document altered: its hash in the manifest and the partner's
    # signature both fail
    tampered = _rewrite(
        pack, received, lambda d: d.replace(b"KR-2026-AK-009001", b"KR-2026-AK-009009", 1)
    )
    problems = verify_pack(tampered)
    assert any(received in p for p in problems)
    # a sent document altered
    assert any(sent in p for p in verify_pack(_rewrite(pack, sent, lambda d: d + b" ")))

    # an audit row edited
    def edit_audit(d: bytes) -> bytes:
        rows = json.loads(d)
        rows[0]["detail"] = "nothing happened"
        return json.dumps(rows).encode()

    assert any("audit row" in p for p in verify_pack(_rewrite(pack, audit, edit_audit)))

    # the manifest edited
    def edit_manifest(d: bytes) -> bytes:
        m = json.loads(d)
        m["certificate"]["state"] = "CANCELLED"
        return json.dumps(m).encode()

    assert any(
        "manifest signature" in p
        for p in verify_pack(_rewrite(pack, "manifest.json", edit_manifest))
    )
    assert verify_pack(b"not a zip") != []
