"""Outbound adapters: one Sender per channel, built from settings.

Each satisfies ``exchange.Sender`` structurally and turns every failure into a
``DeliveryFailed`` whose ``retryable`` flag and ``failure_class`` decide what happens next.
"""

from __future__ import annotations

from collections.abc import Mapping

from ak_bridge.adapters.outbound.asw import AswForwarder
from ak_bridge.adapters.outbound.rest import RestSender
from ak_bridge.adapters.outbound.soap import SoapSender
from ak_bridge.core.settings import Channel, Settings
from ak_bridge.service.delivery import Sender


def build_senders(settings: Settings) -> Mapping[Channel, Sender]:
    return {
        Channel.SOAP: SoapSender(settings),
        Channel.REST: RestSender(),
        Channel.ASW: AswForwarder(),
    }
