"""Classify a requests failure or an HTTP status once, for every outbound channel."""

from __future__ import annotations

import requests

from ..errors import DeliveryFailed, FailureClass, PartnerRejected, PartnerUnreachable


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
    if status >= 500 or status in (408, 429):
        return PartnerUnreachable(
            f"HTTP {status}: {snippet}", failure_class=FailureClass.SERVER, status=status
        )
    return PartnerRejected(
        f"HTTP {status}: {snippet}", failure_class=FailureClass.BUSINESS, status=status
    )
