"""A partner's client written from docs/integration-guide.md alone: requests, lxml, xmlsec1.

It imports nothing from ak_bridge (tests/test_integrator.py checks that, in a process of
its own). It signs as guide section 2.1 says (enveloped, exclusive C14N, RSA/ECDSA-SHA256,
X509Certificate), builds the JSON manifest of 2.3 over its own canonical JSON (2.2), submits
over SOAP (AMS contract) and REST, and receives deliveries, verifying the bridge's signature.
Each submit answers what the receipt said, the signed receipt (guide 3.1) and the SHA-256 the
receipt must name for what was sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from integrator.canonical import sha256_hex
from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
METHOD = {
    "rsa": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "ec": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
}
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
AMS = "urn:ak-bridge:ams:1.0"
MANIFEST = "urn:ak-bridge:signed-json:1"
HEADER_ORDER = (
    "SenderId",
    "ReceiverId",
    "DocumentType",
    "MessageFunction",
    "MessageId",
    "SentAt",
    "ReferenceNo",
    "IssuingCountry",
    "CorrelationId",
)


def _template(key_type: str) -> etree._Element:
    return etree.fromstring(
        f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
        f'<ds:SignatureMethod Algorithm="{METHOD[key_type]}"/>'
        f'<ds:Reference URI=""><ds:Transforms>'
        f'<ds:Transform Algorithm="{DS}enveloped-signature"/>'
        f'<ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        f"<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
        f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>"
        f"</ds:Signature>"
    )


def _key_type(key_file: Path) -> str:
    return "ec" if b"EC PRIVATE KEY" in key_file.read_bytes() or _is_ec(key_file) else "rsa"


def _is_ec(key_file: Path) -> bool:
    done = subprocess.run(
        ["openssl", "pkey", "-in", str(key_file), "-noout", "-text"],
        capture_output=True,
        timeout=30,
    )
    return b"ASN1 OID" in done.stdout or b"prime256v1" in done.stdout


def sign_xml(document: bytes, key_file: Path, cert_file: Path) -> bytes:
    """Guide 2.1: one enveloped signature, last child of the root, signed by xmlsec1."""
    root = etree.fromstring(document)
    root.append(_template(_key_type(key_file)))
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.xml", Path(tmp) / "out.xml"
        source.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        done = subprocess.run(
            [
                "xmlsec1",
                "--sign",
                "--privkey-pem",
                f"{key_file},{cert_file}",
                "--output",
                str(target),
                str(source),
            ],
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return target.read_bytes()


def verify_xml(signed: bytes, cert_file: Path) -> bool:
    """A receiver MUST verify the bridge's signature against the bridge's certificate."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.xml"
        source.write_bytes(signed)
        done = subprocess.run(
            [
                "xmlsec1",
                "--verify",
                "--enabled-key-data",
                "rsa,ecdsa,key-name",
                "--pubkey-cert-pem",
                str(cert_file),
                str(source),
            ],
            capture_output=True,
            timeout=60,
        )
        return done.returncode == 0


def manifest(document: dict[str, Any]) -> bytes:
    """Guide 2.3: the SignedJson manifest (unsigned) of a JSON document."""
    root = etree.Element(f"{{{MANIFEST}}}SignedJson", nsmap={None: MANIFEST})
    etree.SubElement(root, f"{{{MANIFEST}}}ContentType").text = "application/json"
    etree.SubElement(root, f"{{{MANIFEST}}}Sha256").text = sha256_hex(document)
    return etree.tostring(root)


def verify_json(document: dict[str, Any], signature_b64: str, cert_file: Path) -> bool:
    signed = base64.b64decode(signature_b64, validate=False)
    root = etree.fromstring(signed)
    return (
        root.tag == f"{{{MANIFEST}}}SignedJson"
        and root.findtext(f"{{{MANIFEST}}}Sha256") == sha256_hex(document)
        and verify_xml(signed, cert_file)
    )


class Partner:
    """One national system: its partner id, token, key and certificate."""

    def __init__(self, base_url: str, partner_id: str, token: str, key: Path, cert: Path):
        self.base_url, self.partner_id, self.token = base_url, partner_id, token
        self.key, self.cert = key, cert

    def _header(
        self, message_id: str, doc_type: str, function: str, ref: str, country: str, sent_at: str
    ) -> dict[str, str]:
        return {
            "SenderId": self.partner_id,
            "ReceiverId": "AK-BRIDGE",
            "DocumentType": doc_type,
            "MessageFunction": function,
            "MessageId": message_id,
            "SentAt": sent_at,
            "ReferenceNo": ref,
            "IssuingCountry": country,
        }

    def submit_soap(self, document: bytes, **header: str) -> dict[str, str]:
        """SOAP 1.1, AMS contract: base64 of the signed XML in Document."""
        signed = sign_xml(document, self.key, self.cert)
        env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soapenv": SOAP})
        op = etree.SubElement(
            etree.SubElement(env, f"{{{SOAP}}}Body"), f"{{{AMS}}}SubmitDocument", nsmap={None: AMS}
        )
        head = etree.SubElement(op, f"{{{AMS}}}Header")
        values = self._header(**header)
        for name in HEADER_ORDER:
            if values.get(name):
                etree.SubElement(head, f"{{{AMS}}}{name}").text = values[name]
        etree.SubElement(op, f"{{{AMS}}}Document").text = base64.b64encode(signed).decode()
        resp = requests.post(
            self.base_url + "/soap/ams",
            data=etree.tostring(env, xml_declaration=True, encoding="UTF-8"),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "text/xml; charset=utf-8",
            },
            timeout=30,
        )
        reply = etree.fromstring(resp.content)
        return {
            "http": str(resp.status_code),
            "status": reply.findtext(f".//{{{AMS}}}Status") or "",
            "code": reply.findtext(f".//{{{AMS}}}Code") or "",
            "message_id": reply.findtext(f".//{{{AMS}}}MessageId") or "",
            "received_at": reply.findtext(f".//{{{AMS}}}ReceivedAt") or "",
            "signed_receipt": "".join((reply.findtext(f".//{{{AMS}}}SignedReceipt") or "").split()),
            "sent_sha256": hashlib.sha256(signed).hexdigest(),
        }

    def _rest(self, body: dict[str, Any], **header: str) -> dict[str, str]:
        values = self._header(**header)
        body["header"] = {k[0].lower() + k[1:]: v for k, v in values.items() if v}
        resp = requests.post(
            self.base_url + "/rest/v1/documents",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        data = resp.json()
        error = data.get("error") or {}
        return {
            "http": str(resp.status_code),
            "status": data.get("status", ""),
            "code": error.get("code", ""),
            "message_id": data.get("messageId", ""),
            "received_at": data.get("receivedAt", ""),
            "signed_receipt": data.get("signedReceipt", ""),
        }

    def submit_rest_json(self, document: dict[str, Any], **header: str) -> dict[str, str]:
        signature = sign_xml(manifest(document), self.key, self.cert)
        body = {"document": document, "signature": base64.b64encode(signature).decode()}
        return {**self._rest(body, **header), "sent_sha256": sha256_hex(document)}

    def submit_rest_xml(self, document: bytes, **header: str) -> dict[str, str]:
        signed = sign_xml(document, self.key, self.cert)
        answer = self._rest({"documentXml": base64.b64encode(signed).decode()}, **header)
        return {**answer, "sent_sha256": hashlib.sha256(signed).hexdigest()}


class Receiver:
    """Guide section 4: verify the bridge's signature, answer exactly accepted/duplicate."""

    def __init__(self, port: int, bridge_cert: Path) -> None:
        self.received: list[tuple[dict[str, Any], bool]] = []
        seen: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if body.get("document") is not None:
                    ok = verify_json(body["document"], body["signature"], bridge_cert)
                else:
                    ok = verify_xml(base64.b64decode(body["documentXml"]), bridge_cert)
                outer.received.append((body, ok))
                message_id = body["header"]["messageId"]
                if not ok:
                    answer, code = {"error": {"code": "signature_invalid"}}, 403
                else:
                    answer = {"status": "duplicate" if message_id in seen else "accepted"}
                    code = 200
                    seen.add(message_id)
                raw = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
