"""Passes a Form D, byte for byte, to the configured ASW gateway. It is never parsed."""

from __future__ import annotations

from ak_bridge.adapters.outbound.http import HttpPoster
from ak_bridge.core.settings import PartnerConfig
from ak_bridge.service.delivery import Outbound, Sent


class AswForwarder(HttpPoster):
    def send(self, partner: PartnerConfig, message: Outbound) -> Sent:
        resp = self.post(
            partner,
            partner.endpoint,
            partner.timeout_seconds,
            data=message.payload,
            headers={
                "Content-Type": message.content_type,
                "X-Message-Id": message.message_id,
                "X-Original-Sender": message.envelope.correlation_id or "",
            },
        )
        return Sent(resp.status_code)  # the ASW gateway's own receipt is not ours to read
