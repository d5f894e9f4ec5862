"""Issue 10 "Done when": a client that imports nothing from ak_bridge integrates from the guide.

tests/integrator/client.py (requests, lxml, xmlsec1) signs and submits, as Indonesia over
SOAP and as Viet Nam over REST, a certificate and lifecycle messages to a real bridge, and
receives a delivery as Viet Nam, verifying the bridge's signature. The simulators only set
the bridge up and make the unsigned business documents a national system would have.
"""

from __future__ import annotations

import ast
import base64
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
from flows import kcs_sends, settle
from integrator.client import Partner, Receiver, verify_json
from integrator.receipts import check_receipt
from integrator.soap_receiver import SoapReceiver
from lxml import etree

from ak_bridge.core.model import (
    CancellationNotice,
    CustomsResponse,
    ItemDecision,
    PreferenceDecision,
    RetransmissionRequest,
    VerificationRequest,
)
from ak_bridge.core.rules import default_reply_due
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology

HERE = Path(__file__).parent / "integrator"
TODAY = datetime.now(UTC).date()


def test_the_client_imports_nothing_from_ak_bridge() -> None:
    for source in HERE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "ak_bridge" for n in names), (source, names)
    probe = (
        "import sys; import integrator.client; "
        "assert not [m for m in sys.modules if m.startswith('ak_bridge')], 'ak_bridge loaded'"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=HERE.parent, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()


@pytest.fixture
def topo(tmp_path: Path) -> Iterator[Topology]:
    """Viet Nam's own server is left down: the client's receiver takes its port."""
    topo = build_topology(tmp_path / "x", start_partners=("KR-KCS", "ID-SKA"))
    yield topo
    topo.stop()


def _partner(topo: Topology, pid: str) -> Partner:
    pki = topo.workdir / "pki"
    key = next(pki.glob(f"{pid}*key.pem"))
    cert = next(pki.glob(f"{pid}*cert.pem"))
    return Partner(topo.bridge_url, pid, topo.systems[pid].token, key, cert)


def _header(topo: Topology, pid: str, doc: object, message_id: str) -> dict[str, str]:
    env = topo.systems[pid].envelope_for(doc, message_id)  # type: ignore[arg-type]
    return {
        "message_id": message_id,
        "doc_type": str(env.document_type),
        "function": str(env.function),
        "ref": env.reference_no or "",
        "country": env.issuing_country or "",
        "sent_at": datetime.now(UTC).isoformat(),
    }


def _xml(topo: Topology, pid: str, doc: object) -> bytes:
    system = topo.systems[pid]
    lifecycle = system.lifecycle.recognizes  # noqa: F841 - the agreed message XML
    element = (
        system.codec.encode(doc)  # type: ignore[arg-type]
        if doc.__class__.__name__ == "FormAK"
        else system.lifecycle.encode(doc)  # type: ignore[arg-type]
    )
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


def test_a_client_without_ak_bridge_submits_and_receives(topo: Topology) -> None:
    topo.start_bridge()
    worker = topo.worker_exchange()
    ska, vn = _partner(topo, "ID-SKA"), _partner(topo, "VN-ECOSYS")
    bridge_cert = topo.settings.identity_cert
    endpoint = urlparse(topo.settings.partners["VN-ECOSYS"].endpoint)
    receiver = Receiver(endpoint.port or 80, bridge_cert)
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    try:
        # certificates: Indonesia over SOAP (its XML format), Viet Nam over REST (JSON)
        id_co = sample_form_ak("ID-INT-1", "ID", "KR", TODAY)
        got = ska.submit_soap(_xml(topo, "ID-SKA", id_co), **_header(topo, "ID-SKA", id_co, "I1"))
        assert got["status"] == "accepted", got
        vn_co = sample_form_ak("VN-INT-1", "VN", "KR", TODAY)
        vn_doc = topo.systems["VN-ECOSYS"].codec.encode(vn_co)
        got = vn.submit_rest_json(vn_doc, **_header(topo, "VN-ECOSYS", vn_co, "V1"))
        assert got["status"] == "accepted", got
        again = vn.submit_rest_json(vn_doc, **_header(topo, "VN-ECOSYS", vn_co, "V1"))
        assert again["status"] == "duplicate", again

        # receiving: Korea sends Viet Nam three COs; the client's receiver verifies the bridge
        refs = [f"KR-INT-{n}" for n in (1, 2, 3)]
        for ref in refs:
            kr_co = sample_form_ak(ref, "KR", "VN", TODAY)
            assert kcs_sends(topo, kr_co, f"K-{ref}").PrcsRsltCd == "accepted"
        settle(worker)
        assert [ok for _, ok in receiver.received] == [True, True, True]
        delivered = receiver.received[0][0]
        assert delivered["header"]["senderId"] == "AK-BRIDGE"
        # the check is real: another certificate, or a changed document, does not verify
        assert not verify_json(delivered["document"], delivered["signature"], vn.cert)
        changed = {**delivered["document"], "soCO": "KR-FORGED"}
        assert not verify_json(changed, delivered["signature"], bridge_cert)

        # lifecycle messages from the importing side (Viet Nam, REST, agreed XML), one per CO
        decisions = (
            ItemDecision(1, PreferenceDecision.GIVEN),
            ItemDecision(2, PreferenceDecision.GIVEN),
        )
        messages = (
            RetransmissionRequest(refs[0], "KR", "VN", "data lost", TODAY),
            VerificationRequest(
                refs[1], "KR", "VN", "VR-1", "RVC", TODAY, default_reply_due(TODAY)
            ),
            CustomsResponse(refs[2], "KR", "VN", "VN-IMP-1", TODAY, decisions),
        )
        for n, message in enumerate(messages):
            body = _xml(topo, "VN-ECOSYS", message)
            got = vn.submit_rest_xml(body, **_header(topo, "VN-ECOSYS", message, f"VL{n}"))
            assert got["status"] == "accepted", (message, got)
        # and from the issuing side (Indonesia, SOAP): cancel its certificate
        notice = CancellationNotice(id_co.reference_no, "ID", "KR", "withdrawn", TODAY)
        got = ska.submit_soap(_xml(topo, "ID-SKA", notice), **_header(topo, "ID-SKA", notice, "IC"))
        assert got["status"] == "accepted", got
        # a tampered document is refused with a typed code
        signed_elsewhere = _xml(topo, "ID-SKA", sample_form_ak("ID-INT-2", "ID", "KR", TODAY))
        rogue = Partner(topo.bridge_url, "ID-SKA", ska.token, vn.key, vn.cert)
        got = rogue.submit_soap(signed_elsewhere, **_header(topo, "ID-SKA", id_co, "I2"))
        assert got["code"] == "signature_invalid", got
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


# --------------------------------------------------------------------------- every type, both ways


@pytest.fixture
def signed_topo(tmp_path: Path) -> Iterator[Topology]:
    """Receipts signed for Indonesia and Viet Nam; both their servers are the client's."""
    topo = build_topology(
        tmp_path / "y",
        start_partners=("KR-KCS",),
        partner_lines={p: "sign_receipts = true\n" for p in ("ID-SKA", "VN-ECOSYS")},
    )
    yield topo
    topo.stop()


def _lifecycle(ref: str, country: str, n: int) -> list[object]:
    """What an importing Party answers about Korea's CO ``ref`` (one message per CO)."""
    decisions = (
        ItemDecision(1, PreferenceDecision.GIVEN),
        ItemDecision(2, PreferenceDecision.GIVEN),
    )
    kinds = [
        RetransmissionRequest(ref, "KR", country, "data lost", TODAY),
        VerificationRequest(ref, "KR", country, f"VR-{n}", "RVC", TODAY, default_reply_due(TODAY)),
        CustomsResponse(ref, "KR", country, f"{country}-IMP-{n}", TODAY, decisions),
    ]
    return [kinds[n % 3]]


def test_every_message_type_over_soap_and_rest_with_signed_receipts_and_both_receivers(
    signed_topo: Topology,
) -> None:
    topo = signed_topo
    topo.start_bridge()
    worker = topo.worker_exchange()
    ska, vn = _partner(topo, "ID-SKA"), _partner(topo, "VN-ECOSYS")
    bridge_cert = topo.settings.identity_cert
    soap_in = SoapReceiver(
        urlparse(topo.settings.partners["ID-SKA"].endpoint).port or 80, bridge_cert
    )
    rest_in = Receiver(
        urlparse(topo.settings.partners["VN-ECOSYS"].endpoint).port or 80, bridge_cert
    )
    for server in (soap_in.server, rest_in.server):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    answers: list[tuple[str, str, dict[str, str]]] = []  # (partner, what, answer)

    def sent(pid: str, what: str, answer: dict[str, str], status: str = "accepted") -> None:
        assert answer["status"] == status, (pid, what, answer)
        answers.append((pid, what, answer))

    try:
        # certificates: Indonesia over SOAP and over REST (its XML), Viet Nam over REST (JSON)
        id_soap, id_rest = (sample_form_ak(f"ID-ALL-{n}", "ID", "KR", TODAY) for n in (1, 2))
        sent(
            "ID-SKA",
            "certificate/soap",
            ska.submit_soap(
                _xml(topo, "ID-SKA", id_soap), **_header(topo, "ID-SKA", id_soap, "IA1")
            ),
        )
        sent(
            "ID-SKA",
            "certificate/rest",
            ska.submit_rest_xml(
                _xml(topo, "ID-SKA", id_rest), **_header(topo, "ID-SKA", id_rest, "IA2")
            ),
        )
        vn_co = sample_form_ak("VN-ALL-1", "VN", "KR", TODAY)
        vn_doc = topo.systems["VN-ECOSYS"].codec.encode(vn_co)
        sent(
            "VN-ECOSYS",
            "certificate/rest-json",
            vn.submit_rest_json(vn_doc, **_header(topo, "VN-ECOSYS", vn_co, "VA1")),
        )
        # a resend: the original receipt, the same signed bytes
        again = ska.submit_rest_xml(
            _xml(topo, "ID-SKA", id_soap), **_header(topo, "ID-SKA", id_soap, "IA1")
        )
        assert again["status"] == "duplicate"
        assert again["signed_receipt"] == answers[0][2]["signed_receipt"]

        # cancellations, over SOAP and over REST
        for co, via, mid in ((id_soap, "soap", "IX1"), (id_rest, "rest", "IX2")):
            notice = CancellationNotice(co.reference_no, "ID", "KR", "withdrawn", TODAY)
            xml = _xml(topo, "ID-SKA", notice)
            submit = ska.submit_soap if via == "soap" else ska.submit_rest_xml
            sent(
                "ID-SKA", f"cancellation/{via}", submit(xml, **_header(topo, "ID-SKA", notice, mid))
            )

        # receiving: Korea sends six COs to each; the client's receivers verify the bridge
        for country in ("ID", "VN"):
            for n in range(6):
                ref = f"KR-ALL-{country}-{n}"
                kr_co = sample_form_ak(ref, "KR", country, TODAY)
                assert kcs_sends(topo, kr_co, f"K-{ref}").PrcsRsltCd == "accepted"
        settle(worker)
        assert len(soap_in.received) == 6 and all(ok for _, _, ok in soap_in.received)
        assert len(rest_in.received) == 6 and all(ok for _, ok in rest_in.received)

        # the importing side's messages, each kind over SOAP (n 0-2) and over REST (n 3-5)
        for pid, partner, country in (("ID-SKA", ska, "ID"), ("VN-ECOSYS", vn, "VN")):
            for n in range(6):
                [message] = _lifecycle(f"KR-ALL-{country}-{n}", country, n)
                xml = _xml(topo, pid, message)
                via = "soap" if n < 3 else "rest"
                submit = partner.submit_soap if via == "soap" else partner.submit_rest_xml
                kind = type(message).__name__
                sent(
                    pid, f"{kind}/{via}", submit(xml, **_header(topo, pid, message, f"{pid}-L{n}"))
                )
    finally:
        for server in (soap_in.server, rest_in.server):
            server.shutdown()
            server.server_close()

    kinds = {what for _, what, _ in answers}
    for kind in (
        "RetransmissionRequest",
        "VerificationRequest",
        "CustomsResponse",
        "cancellation",
        "certificate",
    ):
        assert {"soap", "rest"} <= {
            w.split("/")[1].split("-")[0] for w in kinds if w.startswith(kind)
        }, kind
    for pid, what, answer in answers:
        assert check_receipt(answer, bridge_cert, pid) == [], (pid, what)
    # the check is real: a receipt with a changed byte, or against another certificate, fails
    pid, _, first = answers[0]
    forged = base64.b64encode(
        base64.b64decode(first["signed_receipt"]).replace(b"ID-SKA", b"ID-SKB")
    ).decode()
    assert check_receipt({**first, "signed_receipt": forged}, bridge_cert, pid)
    assert check_receipt(first, ska.cert, pid)
