"""Simulated partner systems: KCS UNI-PASS and AMS national CO systems, as real servers.

A ``PartnerSystem`` both receives (a Flask app speaking its SOAP contract or REST) and sends
(zeep against the bridge's WSDL, or requests for REST), signing with its own test key and
verifying the bridge's signature on everything it receives, as a real partner would. Its
``mode`` injects faults: down, HTTP 500, slow past the timeout, SOAP faults, malformed replies.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
import zeep
from flask import Flask, Response, request
from lxml import etree
from zeep.transports import Transport

from ak_bridge.adapters.web import soap
from ak_bridge.core.errors import Rejected
from ak_bridge.core.model import (
    DocumentType,
    Envelope,
    FormAK,
    LifecycleMessage,
    MessageFunction,
    Receipt,
)
from ak_bridge.formats import Codec
from ak_bridge.formats.lifecycle import LifecycleCodec, document_type_of, function_of
from ak_bridge.security.signing import Signer, Verifier
from ak_bridge.sim.server import LiveServer
from ak_bridge.standard.contracts import AMS, KCS, SoapContract, rest_body


@dataclass
class Received:
    """One message as the partner system saw it, after verifying the bridge's signature."""

    message_id: str
    envelope: Envelope
    certificate: FormAK | LifecycleMessage | None  # what arrived (None: not kept)
    raw: bytes
    at: datetime


@dataclass
class PartnerSystem:
    """A simulated KCS or AMS system; ``contract`` None means it speaks REST/JSON."""

    partner_id: str
    country: str
    codec: Codec
    signer: Signer
    bridge_verifier: Verifier
    contract: SoapContract | None = None
    token: str | None = None  # bearer token this system presents to the bridge
    expect_authorization: str | None = None  # set: anything else is answered 401
    lifecycle: LifecycleCodec = field(default_factory=LifecycleCodec)
    # ok | http500 | fault | server_fault | slow | malformed | receipt_only (the capacity
    # benchmark's partner: answers from the header without verifying, as if on its own machine)
    mode: str = "ok"
    slow_seconds: float = 3.0
    received: list[Received] = field(default_factory=list)
    hits: int = 0
    busy: int = 0  # requests being answered right now
    most_at_once: int = 0  # the most requests it was answering at the same time
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)
    server: LiveServer | None = None
    keep_documents: bool = True  # False: keep only what was received, not the bytes
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seen: set[str] = field(default_factory=set, repr=False)

    # -- receiving ---------------------------------------------------------------------

    @property
    def path(self) -> str:
        return "/soap" if self.contract else "/rest"

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return self.server.url + self.path

    def app(self) -> Flask:
        app = Flask(f"sim-{self.partner_id}")
        app.add_url_rule(self.path, "receive", self._receive, methods=["GET", "POST"])
        # its test system (UAT) at /uat/…: what ``conformance`` is pointed at
        app.add_url_rule("/uat" + self.path, "uat", self._receive, methods=["GET", "POST"])
        return app

    def start(self, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> PartnerSystem:
        if self.server is None:
            self.server = LiveServer(self.app(), port=port, ssl_context=ssl_context)
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def unique_message_ids(self) -> list[str]:
        return [r.message_id for r in self.received]

    def _receive(self) -> Response:
        with self._lock:
            self.hits += 1
            self.busy += 1
            self.most_at_once = max(self.most_at_once, self.busy)
        try:
            return self._answer()
        finally:
            with self._lock:
                self.busy -= 1

    def _answer(self) -> Response:
        if self.expect_authorization is not None and (
            request.headers.get("Authorization") != self.expect_authorization
        ):
            self.errors.append("unauthenticated request refused (401)")
            body = {"error": {"code": "unauthenticated", "message": "bad or missing credentials"}}
            return Response(json.dumps(body), 401, content_type="application/json")
        if self.mode == "slow":
            time.sleep(self.slow_seconds)
        if self.mode == "http500":
            return Response("<html>upstream error</html>", 500, content_type="text/html")
        if self.mode == "malformed":
            return Response("<soap:Envelope><unclosed>", 200, content_type="text/xml")
        if self.contract is not None:
            return self._receive_soap(self.contract)
        return self._receive_rest()

    def _receive_soap(self, contract: SoapContract) -> Response:
        if request.method == "GET":
            return Response(soap.wsdl_document(contract, request.base_url), content_type="text/xml")
        if self.mode in ("fault", "server_fault"):
            err = Rejected("simulated refusal by the partner system")
            err.soap_faultcode = "Server" if self.mode == "server_fault" else "Client"
            return Response(soap.fault_response(err, contract), 500, content_type=soap.CONTENT_TYPE)
        try:
            element = soap.unwrap(request.get_data(), contract)
            env = soap.read_envelope(element, contract)
            raw = soap.read_document(element, contract)
            if self.mode == "receipt_only":
                return self._receipt_only(env, contract)
            co = self._decode(self.bridge_verifier.verify(raw))
        except Rejected as exc:
            self.errors.append(f"{exc.code}: {exc.detail}")
            return Response(soap.fault_response(exc, contract), 500, content_type=soap.CONTENT_TYPE)
        receipt = self._record(env, co, raw)
        return Response(soap.receipt_response(receipt, contract), content_type=soap.CONTENT_TYPE)

    def _receive_rest(self) -> Response:
        if self.mode in ("fault", "server_fault"):
            code = 500 if self.mode == "server_fault" else 422
            return Response(
                json.dumps({"error": {"code": "refused"}}), code, content_type="application/json"
            )
        try:
            body = request.get_json(force=True)
            h = body["header"]
            env = Envelope(
                sender=h["senderId"],
                receiver=h["receiverId"],
                document_type=DocumentType(h["documentType"]),
                function=MessageFunction(h["messageFunction"]),
                message_id=h["messageId"],
                sent_at=datetime.fromisoformat(h["sentAt"]),
                reference_no=h.get("referenceNo"),
                issuing_country=h.get("issuingCountry"),
                correlation_id=h.get("correlationId"),
            )
            if "documentXml" in body:
                raw = base64.b64decode(body["documentXml"])
                co = self._decode(self.bridge_verifier.verify(raw))
            else:
                self.bridge_verifier.verify_json(
                    body["document"], base64.b64decode(body["signature"])
                )
                raw = json.dumps(body["document"]).encode()
                co = self.codec.decode(body["document"])
        except Rejected as exc:
            self.errors.append(f"{exc.code}: {exc.detail}")
            return Response(
                json.dumps({"error": exc.as_dict()}), 422, content_type="application/json"
            )
        except (KeyError, TypeError, ValueError) as exc:
            self.errors.append(f"bad request: {exc}")
            return Response(
                json.dumps({"error": {"code": "bad_request"}}), 400, content_type="application/json"
            )
        receipt = self._record(env, co, raw)
        return Response(
            json.dumps({"messageId": receipt.message_id, "status": receipt.status}),
            content_type="application/json",
        )

    def _receipt_only(self, env: Envelope, contract: SoapContract) -> Response:
        now = datetime.now(UTC)
        with self._lock:
            self.received.append(Received(env.message_id, env, None, b"", now))
        receipt = Receipt(env.message_id, "accepted", now, env.reference_no or "")
        return Response(soap.receipt_response(receipt, contract), content_type=soap.CONTENT_TYPE)

    def _decode(self, signed: etree._Element) -> FormAK | LifecycleMessage:
        if self.lifecycle.recognizes(signed):
            return self.lifecycle.decode(signed)
        return self.codec.decode(signed)

    def _record(self, env: Envelope, co: FormAK | LifecycleMessage, raw: bytes) -> Receipt:
        now = datetime.now(UTC)
        with self._lock:
            if env.message_id in self._seen:
                self.duplicates += 1
                return Receipt(env.message_id, "duplicate", now, co.reference_no)
            self._seen.add(env.message_id)
            if self.keep_documents:
                self.received.append(Received(env.message_id, env, co, raw, now))
            else:
                self.received.append(Received(env.message_id, env, None, b"", now))
        return Receipt(env.message_id, "accepted", now, co.reference_no)

    # -- sending -----------------------------------------------------------------------

    def document_for(
        self, co: FormAK | LifecycleMessage
    ) -> tuple[bytes | None, dict | None, bytes | None]:
        """Encode in this system's format (or the agreed message XML) and sign with its key."""
        if not isinstance(co, FormAK):
            return self.signer.sign(self.lifecycle.encode(co)), None, None
        encoded = self.codec.encode(co)
        if isinstance(encoded, dict):
            return None, encoded, self.signer.sign_json(encoded)
        return self.signer.sign(encoded), None, None

    def envelope_for(
        self,
        co: FormAK | LifecycleMessage,
        message_id: str,
        function: MessageFunction | None = None,
        document_type: DocumentType | None = None,
    ) -> Envelope:
        """The header a partner system would put on ``co`` (function and type follow it)."""
        return Envelope(
            sender=self.partner_id,
            receiver="AK-BRIDGE",
            document_type=document_type or document_type_of(co),
            function=function or function_of(co),
            message_id=message_id,
            sent_at=datetime.now(UTC),
            reference_no=co.reference_no,
            issuing_country=co.issuing_country,
        )

    def submit(self, bridge_url: str, doc: FormAK | LifecycleMessage, message_id: str) -> Any:
        """Send ``doc`` to the bridge the way this system does: zeep (KCS or AMS contract)
        or REST; returns zeep's reply, or the requests response."""
        xml, json_doc, signature = self.document_for(doc)
        envelope = self.envelope_for(doc, message_id)
        if self.contract is None:
            if json_doc is not None:
                return self.submit_rest(bridge_url, envelope, json_doc, signature)
            return self.submit_rest(bridge_url, envelope, document_xml=xml)
        assert xml is not None
        contract = KCS if self.country == "KR" else AMS
        return self.submit_soap(bridge_url, contract, envelope, xml)

    def submit_soap(
        self, bridge_url: str, contract: SoapContract, envelope: Envelope, document: bytes
    ) -> Any:
        """Call the bridge with zeep, as KCS or an AMS system would; returns zeep's reply."""
        session = requests.Session()
        session.headers.update(self.auth_headers())
        client = zeep.Client(
            str(soap.WSDL_DIR / contract.wsdl),
            transport=Transport(session=session, timeout=10, operation_timeout=30),
        )
        service = client.create_service(contract.binding_qname, bridge_url + contract.path)
        header = contract.header_values(envelope)
        return getattr(service, contract.submit)(
            **{contract.header: header, contract.document: document}
        )

    def submit_rest(
        self,
        bridge_url: str,
        envelope: Envelope,
        document: dict | None = None,
        signature: bytes | None = None,
        document_xml: bytes | None = None,
    ) -> requests.Response:
        body = rest_body(envelope, document, signature, document_xml)
        return requests.post(
            bridge_url + "/rest/v1/documents", json=body, headers=self.auth_headers(), timeout=30
        )

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def parse_soap_reply(data: bytes) -> etree._Element:
    return etree.fromstring(data)


@dataclass
class AswGateway:
    """A stand-in for the national ASW gateway: records what the bridge forwards to it."""

    received: list[tuple[bytes, str]] = field(default_factory=list)  # (body, message id)
    server: LiveServer | None = None

    def start(self, port: int) -> AswGateway:
        app = Flask("sim-asw")

        @app.post("/asw")
        def receive() -> str:
            self.received.append((request.get_data(), request.headers.get("X-Message-Id", "")))
            return "ok"

        self.server = LiveServer(app, port=port).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
