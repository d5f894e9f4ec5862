"""The issuing body is part of a CO's identity (issue 11, standard 1.1).

In Korea both KCS and the Korea Chamber of Commerce and Industry issue COs, and their numbers
are independent: two bodies' COs with one number are two certificates. '' means "not named"
(every 1.0 document, every row stored before), so those keep their identity.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
import zeep
from click.testing import CliRunner
from flows import settle
from lxml import etree
from openapi_check import check
from store_rows import T0, cert_row, delivery_row, message_row
from test_console import PASSWORD, login, with_console

from ak_bridge import create_app
from ak_bridge.adapters.store import copy, migrations, open_database
from ak_bridge.cli import cli
from ak_bridge.core import lifecycle
from ak_bridge.core.errors import VersionNotLossless
from ak_bridge.core.model import CustomsResponse, FormAK, ItemDecision, PreferenceDecision
from ak_bridge.formats.lifecycle import MESSAGES_NS_11, LifecycleCodec
from ak_bridge.ops.evidence import build_pack
from ak_bridge.service.operators import hash_password
from ak_bridge.service.ports import AuditEvent, StateChanged, Store, iso
from ak_bridge.service.records import CertificateChange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import PartnerSpec, Topology, build_topology
from ak_bridge.standard.contracts import AMS

REF = "KR-2026-000777"


@pytest.fixture
def store(database: str) -> Store:
    return open_database(database)


def put(store: Store, mid: str, body: str, ref: str = REF, **fields: object) -> None:
    store.accept(
        dataclasses.replace(message_row(mid, ref=ref), issuing_body=body),
        [delivery_row(mid)],
        [AuditEvent(T0, "received", mid, "KR-KCS")],
        [cert_row(ref, issuing_body=body, last_message_id=mid, **fields)],
        {("KR", body, ref): None},
    )


# -- the store, on both backends --------------------------------------------------------------


def test_two_bodies_cos_with_one_number_are_two_certificates(store: Store) -> None:
    put(store, "M-KCS", "KCS", importing_country="TH")
    put(store, "M-KCCI", "KCCI", importing_country="VN")
    assert store.certificate("KR", REF) is None  # none names no body
    assert store.certificate("KR", REF, "KCS")["importing_country"] == "TH"
    assert store.certificate("KR", REF, "KCCI")["importing_country"] == "VN"
    assert store.certificates_numbered("KR", REF) == ["KCCI", "KCS"]
    assert [m.id for m in store.messages_for_certificate("KR", REF, "KCCI")] == ["M-KCCI"]
    assert store.messages_for_certificate("KR", REF) == []
    # the state expectation is per body: KCCI's CO exists, so "none yet" no longer holds
    with pytest.raises(StateChanged):
        put(store, "M-KCCI-2", "KCCI")
    put(store, "M-NONE", "")  # the CO that names no body is a third one
    assert store.certificates_numbered("KR", REF) == ["", "KCCI", "KCS"]


def test_a_delivery_moves_only_the_co_of_its_own_body(store: Store) -> None:
    put(store, "M-KCS", "KCS")
    put(store, "M-KCCI", "KCCI")
    with store.write() as tx:  # a change decided from the delivered message (body unknown)
        store._change_certificate(  # type: ignore[attr-defined]
            tx, CertificateChange("KR", REF, "ISSUED", "TRANSMITTED", "M-KCCI"), T0
        )
    assert store.certificate("KR", REF, "KCCI")["state"] == "TRANSMITTED"
    assert store.certificate("KR", REF, "KCS")["state"] == "ISSUED"


def test_a_replacement_chain_stays_within_its_body(store: Store) -> None:
    put(store, "A", "KCS", ref="KR-OLD", state="REPLACED", replaced_by="KR-NEW")
    put(store, "B", "KCCI", ref="KR-OLD", state="REPLACED", replaced_by="KR-NEW")
    put(store, "C", "KCS", ref="KR-NEW")
    assert store.predecessors("KR", "KR-NEW", "KCS") == ["KR-OLD"]
    assert store.predecessors("KR", "KR-NEW") == []


def test_the_previous_schema_upgrades_and_its_cos_keep_their_identity(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = next(m for m in migrations.MIGRATIONS if "issuing body" in m.name)
    before = tuple(m for m in migrations.MIGRATIONS if m.version < mine.version)
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", before)
        patched.setattr(migrations, "LATEST", before[-1].version)
        old = open_database(database)
        with old.write() as tx:  # rows as the previous release wrote them
            tx.run(
                "INSERT INTO messages (id, direction, sender, via, document_type, function,"
                " issuing_country, reference_no, created_at) VALUES"
                " ('M0', 'in', 'KR-KCS', 'soap', 'FORM_AK', '9', 'KR', ?, ?)",
                [REF, iso(T0)],
            )
            tx.run(
                "INSERT INTO certificates (issuing_country, reference_no, state, replaced_by,"
                " updated_at) VALUES ('KR', 'KR-0', 'REPLACED', ?, ?), ('KR', ?, 'ISSUED',"
                " NULL, ?)",
                [REF, iso(T0), REF, iso(T0)],
            )
        old.close()
    store = _opened_without_check(database)
    applied = store.upgrade(datetime.now(UTC))
    assert applied == [m.version for m in migrations.MIGRATIONS if m.version >= mine.version]
    assert store.schema_version() == migrations.LATEST
    cert = store.certificate("KR", REF)
    assert cert is not None and cert.issuing_body == "" and cert.state == "ISSUED"
    assert store.predecessors("KR", REF) == ["KR-0"]
    assert [m.issuing_body for m in store.messages_for_certificate("KR", REF)] == [""]
    put(store, "M-KCCI", "KCCI")  # another body's CO with the number: now its own CO
    assert store.certificates_numbered("KR", REF) == ["", "KCCI"]
    with store.read() as tx:
        if database.startswith("postgres"):
            sql = "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'certificates'"
        else:
            sql = (
                "SELECT name FROM sqlite_master WHERE tbl_name = 'certificates' AND type = 'index'"
            )
        indexes = tx.rows(sql)
    assert "certificates_replaced_by" in {r["name"] for r in indexes}


def _opened_without_check(database: str) -> Store:
    """This release's store over an older database, as ``ak-bridge db upgrade`` opens it."""
    if database.startswith("postgres"):
        from ak_bridge.adapters.store.postgres import PostgresStore

        return PostgresStore.open(database, check=False)
    from ak_bridge.adapters.store.sqlite import SqliteStore

    return SqliteStore.open(database, check=False)


# -- through the running bridge ---------------------------------------------------------------

SPECS = (
    PartnerSpec("KR-AK", "KR", "soap", "akstd", AMS, ("1.0", "1.1")),
    PartnerSpec("TH-AK", "TH", "soap", "akstd", AMS, ("1.0", "1.1")),
)


@pytest.fixture
def exchange(tmp_path: Path):
    topo = build_topology(tmp_path / "bodies", SPECS)
    bridge = topo.start_bridge()
    yield topo, bridge, topo.worker_exchange()
    topo.stop()


def issued_by(body: str | None, ref: str = REF) -> FormAK:
    co = sample_form_ak(ref, "KR", "TH", date.today() - timedelta(days=2), items=2)
    return dataclasses.replace(
        co, certification=dataclasses.replace(co.certification, issuing_body=body)
    )


def submit(topo: Topology, co: FormAK, msg_id: str):
    korea = topo.systems["KR-AK"]
    xml, _, _ = korea.document_for(co)
    return korea.submit_soap(topo.bridge_url, AMS, korea.envelope_for(co, msg_id), xml)


def test_kcs_and_kcci_cos_with_one_number_are_both_accepted_and_delivered(exchange) -> None:
    topo, bridge, worker = exchange
    kcs, kcci = issued_by("KCS"), issued_by("KCCI")
    first, second = submit(topo, kcs, "KR-1"), submit(topo, kcci, "KR-2")
    assert (first.Status, second.Status) == ("accepted", "accepted")
    settle(worker)
    got = {
        r.certificate.certification.issuing_body: r.certificate
        for r in topo.systems["TH-AK"].received
    }
    assert got == {"KCS": kcs, "KCCI": kcci}
    for body in ("KCS", "KCCI"):
        assert bridge.store.certificate("KR", REF, body).state == "TRANSMITTED"
    # a resend of either is a duplicate of that one only
    again = submit(topo, kcci, "KR-2")
    assert again.Status == "duplicate" and again.MessageId == second.MessageId
    again = submit(topo, kcs, "KR-1b")
    assert again.Status == "duplicate" and again.MessageId == first.MessageId
    # other content under KCCI's number is a conflict with KCCI's CO, not KCS's
    other = dataclasses.replace(kcci, items=kcci.items[:1])
    with pytest.raises(zeep.exceptions.Fault) as exc:
        submit(topo, other, "KR-3")
    detail = etree.tostring(exc.value.detail).decode()
    assert "duplicate_conflict" in detail and second.MessageId in detail


def test_a_co_naming_no_body_behaves_as_before(exchange) -> None:
    topo, bridge, worker = exchange
    plain = issued_by(None)
    assert submit(topo, plain, "KR-1").Status == "accepted"
    assert submit(topo, plain, "KR-1").Status == "duplicate"
    with pytest.raises(zeep.exceptions.Fault) as exc:
        submit(topo, dataclasses.replace(plain, items=plain.items[:1]), "KR-2")
    assert "duplicate_conflict" in etree.tostring(exc.value.detail).decode()
    settle(worker)
    cert = bridge.store.certificate("KR", REF)
    assert cert.state == "TRANSMITTED" and cert.issuing_body == ""
    assert cert.order_key == f"KR|{REF}"  # the order key of 1.0 is unchanged
    assert submit(topo, issued_by("KCCI"), "KR-3").Status == "accepted"  # a KCCI CO is another


def test_a_replace_retires_the_co_of_its_own_body(exchange) -> None:
    topo, bridge, worker = exchange
    for body, mid in (("KCS", "KR-1"), ("KCCI", "KR-2")):
        assert submit(topo, issued_by(body), mid).Status == "accepted"
    settle(worker)
    old = issued_by("KCCI")
    new = dataclasses.replace(
        old,
        reference_no="KR-2026-000778",
        replaces_reference_no=REF,
        original_issue_date=old.issue_date,
    )
    assert submit(topo, new, "KR-3").Status == "accepted"
    assert bridge.store.certificate("KR", REF, "KCCI").state == "REPLACED"
    assert bridge.store.certificate("KR", REF, "KCS").state == "TRANSMITTED"
    assert bridge.store.predecessors("KR", "KR-2026-000778", "KCCI") == [REF]


# -- lifecycle messages -----------------------------------------------------------------------


def customs_response(body: str | None, declaration: str = "TH-IMP-1") -> CustomsResponse:
    decisions = (
        ItemDecision(1, PreferenceDecision.GIVEN),
        ItemDecision(2, PreferenceDecision.GIVEN),
    )
    return CustomsResponse(REF, "KR", "TH", declaration, date.today(), decisions, issuing_body=body)


def test_the_1_1_reference_carries_the_body_and_1_0_refuses_it() -> None:
    codec = LifecycleCodec()
    kcci = customs_response("KCCI")
    root = codec.encode(kcci, "1.1")
    assert root.find(f".//{{{MESSAGES_NS_11}}}IssuingBody").text == "KCCI"
    assert codec.decode(root) == kcci
    assert codec.decode(codec.encode(customs_response(None), "1.1")).issuing_body is None
    with pytest.raises(VersionNotLossless) as exc:
        codec.encode(kcci, "1.0")
    assert exc.value.box == "header"
    # a message naming no body keeps its stored text and hash, and its key
    plain = customs_response(None)
    assert "issuing_body" not in lifecycle.content_json(plain)[0]
    assert lifecycle.business_key(plain, "11") == f"KR|{REF}|CustomsResponse|11|TH-IMP-1"
    assert lifecycle.business_key(kcci, "11") == f"KR|KCCI|{REF}|CustomsResponse|11|TH-IMP-1"


def _two_bodies_delivered(topo: Topology, worker) -> None:
    for body, mid in (("KCS", "KR-1"), ("KCCI", "KR-2")):
        assert submit(topo, issued_by(body), mid).Status == "accepted"
    settle(worker)


def test_a_response_naming_its_body_moves_that_co_only(exchange) -> None:
    topo, bridge, worker = exchange
    _two_bodies_delivered(topo, worker)
    thailand = topo.systems["TH-AK"]
    assert thailand.submit(topo.bridge_url, customs_response("KCCI"), "TH-1").Status == "accepted"
    assert bridge.store.certificate("KR", REF, "KCCI").state == "PREFERENCE_GIVEN"
    assert bridge.store.certificate("KR", REF, "KCS").state == "TRANSMITTED"
    changed = bridge.store.audit_events("state_changed", limit=1)[0].detail
    assert changed == f"KR/{REF} issued by KCCI: TRANSMITTED -> PREFERENCE_GIVEN"
    assert thailand.submit(topo.bridge_url, customs_response("KCCI"), "TH-1").Status == "duplicate"
    settle(worker)
    [forwarded] = topo.systems["KR-AK"].received  # the issuer hears which CO, by body
    assert forwarded.certificate.issuing_body == "KCCI" and b"<IssuingBody>KCCI<" in forwarded.raw
    assert [m.document_type for m in bridge.store.messages_for_certificate("KR", REF, "KCS")] == [
        "FORM_AK"
    ]


def test_a_response_naming_no_body_is_refused_when_a_body_uses_the_number(exchange) -> None:
    topo, bridge, worker = exchange
    assert submit(topo, issued_by(None), "KR-0").Status == "accepted"  # a CO naming no body
    _two_bodies_delivered(topo, worker)
    before = len(bridge.store.find_messages())
    with pytest.raises(zeep.exceptions.Fault) as exc:
        topo.systems["TH-AK"].submit(topo.bridge_url, customs_response(None), "TH-2")
    detail = etree.tostring(exc.value.detail).decode()
    assert "not_found" in detail and "IssuingBody" in detail and "KCCI" in detail
    assert ">header<" in detail
    assert len(bridge.store.find_messages()) == before  # nothing stored
    for body in ("", "KCS", "KCCI"):
        assert bridge.store.certificate("KR", REF, body).state == "TRANSMITTED"
    # naming a body that has no CO with the number is not found, like any unknown CO
    with pytest.raises(zeep.exceptions.Fault) as exc:
        topo.systems["TH-AK"].submit(topo.bridge_url, customs_response("KITA"), "TH-3")
    assert "issued by KITA" in etree.tostring(exc.value.detail).decode()


def test_a_response_naming_no_body_addresses_the_co_naming_none(exchange) -> None:
    topo, bridge, worker = exchange
    assert submit(topo, issued_by(None), "KR-0").Status == "accepted"
    settle(worker)
    response = customs_response(None)
    assert topo.systems["TH-AK"].submit(topo.bridge_url, response, "TH-1").Status == "accepted"
    assert bridge.store.certificate("KR", REF).state == "PREFERENCE_GIVEN"


# -- status, evidence and the operator tools --------------------------------------------------


def test_the_status_api_evidence_and_timeline_address_a_bodys_co(exchange) -> None:
    topo, bridge, worker = exchange
    _two_bodies_delivered(topo, worker)
    assert topo.systems["TH-AK"].submit(topo.bridge_url, customs_response("KCCI"), "TH-1")
    url = f"{topo.bridge_url}/rest/v1/certificates/KR/{REF}"
    headers = topo.systems["TH-AK"].auth_headers()
    kcci = requests.get(url, params={"issuingBody": "KCCI"}, headers=headers, timeout=30)
    check(kcci)  # as the OpenAPI document says
    assert kcci.status_code == 200, kcci.text
    assert kcci.json()["state"] == "PREFERENCE_GIVEN" and kcci.json()["issuingBody"] == "KCCI"
    kcs = requests.get(url, params={"issuingBody": "KCS"}, headers=headers, timeout=30)
    assert kcs.json()["state"] == "TRANSMITTED"
    none = requests.get(url, headers=headers, timeout=30)  # the CO naming no body: none here
    assert none.status_code == 404 and none.json()["error"]["code"] == "not_found"
    # the evidence pack holds the KCCI CO's messages only
    pack = build_pack(bridge.store, bridge.signer, b"", {}, "KR", REF, datetime.now(UTC), "KCCI")
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(pack)).read("manifest.json"))
    assert manifest["certificate"]["issuing_body"] == "KCCI"
    assert [m["document_type"] for m in manifest["messages"]] == ["FORM_AK", "CUSTOMS_RESPONSE"]
    # the operator's timeline
    config = str(topo.workdir / "config")
    out = CliRunner().invoke(
        cli, ["--config", config, "timeline", "KR", REF, "--issuing-body", "KCCI"]
    )
    assert out.exit_code == 0, out.output
    assert "issued by KCCI" in out.output and "CUSTOMS_RESPONSE" in out.output
    out = CliRunner().invoke(cli, ["--config", config, "timeline", "KR", REF])
    assert out.exit_code == 1 and "use --issuing-body" in out.output


def test_db_copy_moves_every_bodys_co_to_postgresql(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = open_database(tmp_path / "pilot.db")
    for n, body in enumerate(("KCS", "", "KCCI")):
        put(source, f"M{n}", body)
    monkeypatch.setattr(copy, "BATCH", 1)  # a page per row
    target = open_database(pg_url)
    assert copy.copy_store(source, target)["certificates"] == 3
    assert copy.verify_copy(source, target) == []
    assert target.certificates_numbered("KR", REF) == ["", "KCCI", "KCS"]
    assert target.certificate("KR", REF, "KCCI").last_message_id == "M2"


def test_db_copy_pages_every_table_in_the_order_of_its_primary_key(tmp_path: Path) -> None:
    """LIMIT/OFFSET pages skip or repeat rows unless the order is total: the primary key."""
    store = open_database(tmp_path / "pilot.db")
    with store.read() as tx:
        for table, key in copy.TABLES:
            info = tx.rows(f"PRAGMA table_info({table})")
            primary = [c["name"] for c in sorted(info, key=lambda c: c["pk"]) if c["pk"]]
            assert [k.strip() for k in key.split(",")] == primary, table


def test_the_console_links_a_bodys_message_to_that_cos_evidence(exchange) -> None:
    topo, bridge, worker = exchange
    submit(topo, issued_by("KCS"), "KR-1")
    kcci = submit(topo, issued_by("KCCI"), "KR-2").MessageId
    settings = with_console(topo, "s" * 40, secure_cookies=False)
    bridge.store.add_operator("olga", "operator", hash_password(PASSWORD), datetime.now(UTC))
    c = create_app(settings).test_client()
    login(c, "olga")
    page = c.get(f"/admin/messages/{kcci}").get_data(as_text=True)
    link = re.search(r'id="download-evidence" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert link.endswith(f"/evidence/KR/{REF}?body=KCCI")
    pack = c.get(link)
    assert (
        pack.status_code == 200
        and f"evidence-KR-KCCI-{REF}.zip" in pack.headers["Content-Disposition"]
    )
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(pack.data)).read("manifest.json"))
    assert manifest["certificate"]["issuing_body"] == "KCCI"
    assert [m["id"] for m in manifest["messages"]] == [kcci]
    assert c.get(f"/admin/evidence/KR/{REF}").status_code == 404  # no CO naming no body
