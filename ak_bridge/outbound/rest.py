"""REST/JSON sender for national CO systems that prefer JSON to SOAP."""

from __future__ import annotations

import base64
import json
import threading

import requests

from ..config import PartnerConfig
from ..contracts import rest_header
from ..delivery import Outbound, Sent
from ..errors import FailureClass, PartnerRejected, PartnerUnreachable
from .http_errors import from_exception, from_status


class RestSender:
    """POST ``{"header", "document", "signature"}``; the message id is the idempotency key."""

    def __init__(self) -> None:
        self._local = threading.local()  # one session per delivering thread

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, partner: PartnerConfig, message: Outbound) -> Sent:
        if message.content_type == "application/json":
            body = json.loads(message.payload)
        else:  # an XML national format over REST: the signed bytes travel as base64
            body = {"documentXml": base64.b64encode(message.payload).decode()}
        body["header"] = rest_header(message.envelope)
        try:
            resp = self.session.post(
                partner.endpoint,
                json=body,
                headers={"Idempotency-Key": message.message_id},
                timeout=(min(5.0, partner.timeout_seconds), partner.timeout_seconds),
            )
        except requests.RequestException as exc:
            raise from_exception(exc) from None
        if resp.status_code >= 300:
            raise from_status(resp.status_code, resp.text)
        try:
            status = resp.json().get("status")
        except ValueError:
            raise PartnerUnreachable(
                "malformed reply: not JSON",
                failure_class=FailureClass.SCHEMA,
                status=resp.status_code,
            ) from None
        if status not in ("accepted", "duplicate"):
            raise PartnerRejected(
                f"partner answered status {status!r}",
                failure_class=FailureClass.BUSINESS,
                status=resp.status_code,
            )
        return Sent(resp.status_code, status)
