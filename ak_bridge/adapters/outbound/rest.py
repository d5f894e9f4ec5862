"""REST/JSON sender for national CO systems that prefer JSON to SOAP."""

from __future__ import annotations

import base64
import json

from ak_bridge.adapters.outbound.http import HttpPoster
from ak_bridge.core.errors import FailureClass, PartnerRejected, PartnerUnreachable
from ak_bridge.core.settings import PartnerConfig
from ak_bridge.service.delivery import Outbound, Sent
from ak_bridge.standard.contracts import rest_header


class RestSender(HttpPoster):
    """POST ``{"header", "document", "signature"}``; the message id is the idempotency key."""

    def send(self, partner: PartnerConfig, message: Outbound) -> Sent:
        if message.content_type == "application/json":
            body = json.loads(message.payload)
        else:  # an XML national format over REST: the signed bytes travel as base64
            body = {"documentXml": base64.b64encode(message.payload).decode()}
        body["header"] = rest_header(message.envelope)
        resp = self.post(
            partner,
            partner.endpoint,
            partner.timeout_seconds,
            json=body,
            headers={"Idempotency-Key": message.message_id},
        )
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
