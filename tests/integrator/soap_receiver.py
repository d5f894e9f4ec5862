"""Guide section 4 for a SOAP (AMS contract) receiver, from the WSDL alone (no ak_bridge code).

The bridge calls ``SubmitDocument``; the receiver decodes ``Document`` (base64), verifies the
bridge's signature with xmlsec1 and answers a ``Receipt`` whose ``Status`` is exactly
``accepted`` (or ``duplicate`` for a message id seen before), or a Client fault when the
signature does not verify.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from integrator.client import AMS, SOAP, verify_xml
from lxml import etree


def _envelope(inner: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP}">'
        f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"
    ).encode()


class SoapReceiver:
    """Records (message id, document bytes, verified) for each delivery."""

    def __init__(self, port: int, bridge_cert: Path) -> None:
        self.received: list[tuple[str, bytes, bool]] = []
        seen: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                request = etree.fromstring(self.rfile.read(int(self.headers["Content-Length"])))
                message_id = request.findtext(f".//{{{AMS}}}Header/{{{AMS}}}MessageId") or ""
                document = base64.b64decode(request.findtext(f".//{{{AMS}}}Document") or "")
                ok = verify_xml(document, bridge_cert)
                outer.received.append((message_id, document, ok))
                if ok:
                    status = "duplicate" if message_id in seen else "accepted"
                    seen.add(message_id)
                    body, code = (
                        _envelope(
                            f'<Receipt xmlns="{AMS}"><MessageId>{message_id}</MessageId>'
                            f"<Status>{status}</Status>"
                            f"<ReceivedAt>{datetime.now(UTC).isoformat()}</ReceivedAt></Receipt>"
                        ),
                        200,
                    )
                else:
                    body, code = (
                        _envelope(
                            "<soapenv:Fault><faultcode>soapenv:Client</faultcode>"
                            "<faultstring>signature_invalid</faultstring></soapenv:Fault>"
                        ),
                        500,
                    )
                self.send_response(code)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
