"""Issue 10 part 3: signed receipts, per partner, as the sender's proof of receipt.

The bridge signs every receipt of a partner with ``sign_receipts = true`` (SOAP, both
contracts, and REST); xmlsec1, a verifier that is not ours, checks them against the bridge's
CA; the receipt names the SHA-256 of the document the sender sent; a resend, on either
instance, gets the original receipt back, byte for byte; the evidence pack holds them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from store_rows import T0, message_row

from ak_bridge.adapters.store import open_database
from ak_bridge.cli import cli
from ak_bridge.ops.evidence import verify_pack
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import LiveServer
from ak_bridge.sim.topology import Topology
from ak_bridge.standard.contracts import AMS, KCS

TODAY = datetime.now(UTC).date()
NS = "{urn:ak-bridge:receipt:1.0}"


def xmlsec1_verifies(signed: bytes, ca: Path, tmp_path: Path) -> bool:
    """xmlsec1 (Debian's, not our code) checks the signature and the chain to the CA."""
    path = tmp_path / "receipt.xml"
    path.write_bytes(signed)
    run = subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(ca), str(path)],
        capture_output=True,
        text=True,
    )
    return run.returncode == 0


def test_store_keeps_the_first_receipt_on_both_backends(database: str) -> None:
    store = open_database(database)
    store.accept(message_row("AKB-R1"), [], [])
    assert store.signed_receipt("AKB-R1") is None
    assert store.keep_receipt("AKB-R1", b"<first/>", T0) == b"<first/>"
    # a second signer (another instance, a rolled key) gets the first bytes back
    assert store.keep_receipt("AKB-R1", b"<second/>", T0) == b"<first/>"
    assert store.signed_receipt("AKB-R1") == b"<first/>"
    assert store.signed_receipt("AKB-NONE") is None


def test_instances_signing_at_once_all_return_the_one_kept_receipt(database: str) -> None:
    """A resend racing its original, on other instances: one receipt wins, all return it."""
    open_database(database).accept(message_row("AKB-R2"), [], [])
    start = threading.Barrier(6)

    def sign_and_keep(n: int) -> bytes:
        store = open_database(database)
        start.wait()
        try:
            return store.keep_receipt("AKB-R2", f"<signed by='{n}'/>".encode(), T0)
        finally:
            store.close()

    with ThreadPoolExecutor(6) as pool:
        kept = set(pool.map(sign_and_keep, range(6)))
    assert len(kept) == 1 and kept == {open_database(database).signed_receipt("AKB-R2")}


def test_rest_receipt_is_signed_names_the_document_and_a_resend_gets_it_back(
    signed: Topology, tmp_path: Path
) -> None:
    vn = signed.systems["VN-ECOSYS"]
    co = sample_form_ak("VN-RCPT-1", "VN", "KR", TODAY)
    first = vn.submit(signed.bridge_url, co, "VN-R-1").json()
    receipt = base64.b64decode(first["signedReceipt"])
    ca = signed.workdir / "pki" / "ca.test-cert.pem"
    assert xmlsec1_verifies(receipt, ca, tmp_path)
    assert not xmlsec1_verifies(receipt.replace(b"VN-RCPT-1", b"VN-RCPT-2"), ca, tmp_path)
    root = etree.fromstring(receipt)
    assert root.findtext(f"{NS}MessageId") == first["messageId"]
    assert root.findtext(f"{NS}Status") == "accepted"
    assert root.findtext(f"{NS}ReceivedAt") == first["receivedAt"]
    assert root.findtext(f"{NS}SenderId") == "VN-ECOSYS"
    assert root.findtext(f"{NS}PartnerMessageId") == "VN-R-1"
    _, json_doc, _ = vn.document_for(co)
    canonical = json.dumps(json_doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert root.findtext(f"{NS}ContentSha256") == hashlib.sha256(canonical.encode()).hexdigest()

    again = vn.submit(signed.bridge_url, co, "VN-R-1-again").json()
    assert again["status"] == "duplicate"
    assert (again["messageId"], again["receivedAt"]) == (first["messageId"], first["receivedAt"])
    assert again["signedReceipt"] == first["signedReceipt"]  # the same signature bytes


@pytest.mark.parametrize("pid", ["ID-SKA", "KR-KCS"])
def test_soap_receipts_are_signed_and_resends_on_the_other_instance_get_the_same(
    signed: Topology, tmp_path: Path, pid: str
) -> None:
    system = signed.systems[pid]
    importer = "KR" if system.country != "KR" else "VN"
    co = sample_form_ak(f"{system.country}-RCPT-1", system.country, importer, TODAY)
    xml, _, _ = system.document_for(co)  # signed once: an ECDSA signature differs each time
    contract = KCS if pid == "KR-KCS" else AMS
    reply = system.submit_soap(signed.bridge_url, contract, system.envelope_for(co, "R1"), xml)
    field = "SignedReceipt" if pid == "ID-SKA" else "SgnRcpt"
    receipt = getattr(reply, field)
    assert isinstance(receipt, bytes)
    assert xmlsec1_verifies(receipt, signed.workdir / "pki" / "ca.test-cert.pem", tmp_path)
    root = etree.fromstring(receipt)
    assert root.findtext(f"{NS}ContentSha256") == hashlib.sha256(xml).hexdigest()

    # the same message, resent to a second instance of the bridge on the same database
    from ak_bridge import create_app

    other = LiveServer(create_app(signed.settings)).start()
    try:
        again = system.submit_soap(other.url, contract, system.envelope_for(co, "R1b"), xml)
    finally:
        other.stop()
    status = "Status" if pid == "ID-SKA" else "PrcsRsltCd"
    assert getattr(again, status) == "duplicate"
    assert getattr(again, field) == receipt


def test_a_partner_without_the_setting_gets_no_signed_receipt(
    topology: Topology, bridge: Exchange
) -> None:
    vn = topology.systems["VN-ECOSYS"]
    answer = vn.submit(topology.bridge_url, sample_form_ak("VN-RCPT-9", "VN", "KR", TODAY), "V9")
    assert answer.json()["status"] == "accepted" and "signedReceipt" not in answer.json()
    kcs = topology.systems["KR-KCS"]
    reply = kcs.submit(topology.bridge_url, sample_form_ak("KR-RCPT-9", "KR", "VN", TODAY), "K9")
    assert reply.SgnRcpt is None


def test_the_evidence_pack_holds_the_signed_receipts(signed: Topology, tmp_path: Path) -> None:
    vn = signed.systems["VN-ECOSYS"]
    first = vn.submit(signed.bridge_url, sample_form_ak("VN-RCPT-5", "VN", "KR", TODAY), "V5")
    out = tmp_path / "pack.zip"
    config = str(signed.settings.root / "config")
    result = CliRunner().invoke(
        cli, ["--config", config, "evidence", "export", "VN", "VN-RCPT-5", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    pack = zipfile.ZipFile(out)
    [message] = json.loads(pack.read("manifest.json"))["messages"]
    assert pack.read(message["receipt"]) == base64.b64decode(first.json()["signedReceipt"])
    assert verify_pack(out.read_bytes()) == []
    # a receipt altered inside the pack is caught by its signature (and the manifest hash)
    buf = tmp_path / "tampered.zip"
    with zipfile.ZipFile(buf, "w") as dst:
        for name in pack.namelist():
            data = pack.read(name)
            dst.writestr(
                name,
                data.replace(b"VN-ECOSYS", b"VN-ECOSYZ") if name == message["receipt"] else data,
            )
    assert any("signed receipt" in p for p in verify_pack(buf.read_bytes()))
