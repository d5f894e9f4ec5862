"""Plain HTTP for the outbound channels: one session per thread, every failure classified.

Classifying once here (transport, timeout, TLS, auth, server: retried; a refusal: not) keeps the
SOAP, REST and ASW senders from each deciding differently what deserves another try.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import requests

from ak_bridge.adapters.outbound.credentials import partner_session
from ak_bridge.core.errors import DeliveryFailed, FailureClass, PartnerRejected, PartnerUnreachable
from ak_bridge.core.settings import PartnerConfig


def from_exception(exc: requests.RequestException) -> DeliveryFailed:
    """Transport-level failures are always worth another try."""
    if isinstance(exc, requests.exceptions.SSLError):
        return PartnerUnreachable(f"TLS error: {exc}", failure_class=FailureClass.TLS)
    if isinstance(exc, requests.exceptions.Timeout):
        return PartnerUnreachable(f"timed out: {exc}", failure_class=FailureClass.TIMEOUT)
    return PartnerUnreachable(
        f"cannot reach partner: {type(exc).__name__}", failure_class=FailureClass.TRANSPORT
    )


def from_status(status: int, body: str) -> DeliveryFailed:
    """5xx (and 408/429) is the partner's trouble: retry. Other 4xx is a refusal: do not."""
    snippet = " ".join(body.split())[:300]
    if status in (401, 403):  # our credentials, not this message: wait for the operator
        return PartnerUnreachable(
            f"HTTP {status}: {snippet}", failure_class=FailureClass.AUTH, status=status
        )
    if status >= 500 or status in (408, 429):
        return PartnerUnreachable(
            f"HTTP {status}: {snippet}", failure_class=FailureClass.SERVER, status=status
        )
    code = _json_error_code(body)
    return PartnerRejected(
        f"HTTP {status}: {snippet}",
        failure_class=class_of_refusal(code, FailureClass.BUSINESS),
        status=status,
        code=code,
    )


def _json_error_code(body: str) -> str | None:
    """The typed code of a JSON refusal (``{"error": {"code": …}}``), if it is one."""
    try:
        error = json.loads(body).get("error", {})
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


# What a partner's typed refusal says about the failure, for the dead letter's class.
CLASS_OF_CODE = {
    "signature_invalid": FailureClass.SIGNATURE,
    "signature_unsupported": FailureClass.SIGNATURE,
    "schema_violation": FailureClass.SCHEMA,
    "malformed_xml": FailureClass.SCHEMA,
    "forbidden_xml": FailureClass.SCHEMA,
    "bad_envelope": FailureClass.SCHEMA,
}


def class_of_refusal(code: str | None, default: FailureClass) -> FailureClass:
    """A signature or schema refusal is our side's problem, not the partner's business."""
    return CLASS_OF_CODE.get(code or "", default)


class HttpPoster:
    """POSTs to partners with one ``requests`` session per partner per delivering thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def session(self, partner: PartnerConfig) -> requests.Session:
        sessions = self._local.__dict__.setdefault("sessions", {})
        if partner.id not in sessions:
            sessions[partner.id] = partner_session(partner)
        return sessions[partner.id]

    def post(
        self, partner: PartnerConfig, url: str, timeout: float, **kwargs: Any
    ) -> requests.Response:
        """A 2xx response, or the classified DeliveryFailed."""
        try:
            resp = self.session(partner).post(url, timeout=(min(5.0, timeout), timeout), **kwargs)
        except requests.RequestException as exc:
            raise from_exception(exc) from None
        if resp.status_code >= 300:
            raise from_status(resp.status_code, resp.text)
        return resp
