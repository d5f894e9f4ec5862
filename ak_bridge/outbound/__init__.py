"""Outbound adapters: one Sender per channel, built from settings.

Each satisfies ``exchange.Sender`` structurally and turns every failure into a
``DeliveryFailed`` whose ``retryable`` flag and ``failure_class`` decide what happens next.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..config import Channel, Settings
from ..delivery import Sender
from .asw import AswForwarder
from .rest import RestSender
from .soap import SoapSender


def build_senders(settings: Settings) -> Mapping[Channel, Sender]:
    return {
        Channel.SOAP: SoapSender(settings),
        Channel.REST: RestSender(),
        Channel.ASW: AswForwarder(),
    }
