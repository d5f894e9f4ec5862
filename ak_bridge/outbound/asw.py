"""Passes a Form D, byte for byte, to the configured ASW gateway. It is never parsed."""

from __future__ import annotations

import threading

import requests

from ..config import PartnerConfig
from ..delivery import Outbound, Sent
from .http_errors import from_exception, from_status


class AswForwarder:
    def __init__(self) -> None:
        self._local = threading.local()  # one session per delivering thread

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, partner: PartnerConfig, message: Outbound) -> Sent:
        try:
            resp = self.session.post(
                partner.endpoint,
                data=message.payload,
                headers={
                    "Content-Type": message.content_type,
                    "X-Message-Id": message.message_id,
                    "X-Original-Sender": message.envelope.correlation_id or "",
                },
                timeout=(min(5.0, partner.timeout_seconds), partner.timeout_seconds),
            )
        except requests.RequestException as exc:
            raise from_exception(exc) from None
        if resp.status_code >= 300:
            raise from_status(resp.status_code, resp.text)
        return Sent(resp.status_code)  # the ASW gateway's own receipt is not ours to read
