"""Smaller trust rules: the 401 challenge, any-case Bearer, capped header fields and audit
text, what a partner may see of another's events, and no passphrase in a repr."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
import requests
import zeep
from bridge_client import soap_submit

from ak_bridge.service.exchange import AUDIT_DETAIL_MAX, Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS, KCS

TODAY = datetime.now(UTC).date()


def test_401_carries_a_bearer_challenge_and_bearer_is_case_insensitive(
    topology: Topology, bridge: Exchange
) -> None:
    resp = requests.post(topology.bridge_url + "/rest/v1/documents", json={}, timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="ak-bridge"'
    token = topology.systems["VN-ECOSYS"].token
    resp = requests.post(
        topology.bridge_url + "/rest/v1/documents",
        json={},
        headers={"Authorization": f"bearer {token}"},
        timeout=5,
    )
    assert resp.status_code == 400  # authenticated; the empty body is what is wrong now
    assert "WWW-Authenticate" not in resp.headers


def test_overlong_header_field_is_refused_and_audit_text_is_capped(
    topology: Topology, bridge: Exchange
) -> None:
    ind = topology.systems["ID-SKA"]
    co = sample_form_ak("0010/SKA-AK/JKT/2026", "ID", "KR", TODAY)
    xml, _, _ = ind.document_for(co)
    env = ind.envelope_for(co, "x" * 5000)
    answer = soap_submit(topology.bridge_url, AMS, ind.auth_headers(), env, xml)
    assert (answer.status, answer.code) == (500, "schema_violation")
    assert bridge.store.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    (row,) = bridge.store.audit_events("rejected", limit=1)
    assert len(row["detail"]) <= AUDIT_DETAIL_MAX


def test_the_importer_does_not_see_the_issuers_refusals_in_the_timeline(
    topology: Topology, bridge: Exchange, worker: Exchange
) -> None:
    kcs = topology.systems["KR-KCS"]
    co = sample_form_ak("KR-2026-AK-008001", "KR", "VN", TODAY)
    xml, _, _ = kcs.document_for(co)
    kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K-p1"), xml)
    other = sample_form_ak("KR-2026-AK-008001", "KR", "VN", TODAY, items=1)
    xml2, _, _ = kcs.document_for(other)
    with pytest.raises(zeep.exceptions.Fault, match="duplicate_conflict"):
        kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(other, "K-p2"), xml2)
    issuer = [e["name"] for e in bridge.status("KR", co.reference_no, caller="KR-KCS")["events"]]
    importer = [
        e["name"] for e in bridge.status("KR", co.reference_no, caller="VN-ECOSYS")["events"]
    ]
    assert "conflict_kept" in issuer
    assert "conflict_kept" not in importer
    assert "received" in importer


def test_settings_repr_never_shows_the_key_passphrase(topology: Topology) -> None:
    settings = dataclasses.replace(topology.settings, identity_passphrase=b"s3cret-passphrase")
    assert "s3cret-passphrase" not in repr(settings)


def test_an_anchor_catches_rows_cut_off_the_end_of_the_audit_trail(
    topology: Topology, bridge: Exchange, tmp_path
) -> None:
    import json
    import sqlite3
    from contextlib import closing

    from click.testing import CliRunner

    from ak_bridge.cli import cli

    kcs = topology.systems["KR-KCS"]
    co = sample_form_ak("KR-2026-AK-008101", "KR", "VN", TODAY)
    xml, _, _ = kcs.document_for(co)
    kcs.submit_soap(topology.bridge_url, KCS, kcs.envelope_for(co, "K-anchor"), xml)
    config = str(topology.settings.root / "config")

    def run(*args: str):
        return CliRunner().invoke(cli, ["--config", config, *args])

    anchor = tmp_path / "anchor.json"
    assert run("audit", "anchor", "--out", str(anchor)).exit_code == 0
    assert run("audit", "verify", "--anchor", str(anchor)).exit_code == 0
    head = json.loads(anchor.read_text())["seq"]

    with closing(sqlite3.connect(topology.settings.database)) as db, db:
        db.execute("DELETE FROM audit WHERE seq >= ?", [head])  # cut the tail off
    assert run("audit", "verify").exit_code == 0  # the chain alone cannot tell
    result = run("audit", "verify", "--anchor", str(anchor))
    assert result.exit_code == 1 and "the trail was cut" in result.output

    forged = json.loads(anchor.read_text()) | {"seq": 1}
    anchor.write_text(json.dumps(forged))
    result = run("audit", "verify", "--anchor", str(anchor))
    assert result.exit_code == 1 and "not signed by this bridge" in result.output
