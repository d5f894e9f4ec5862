"""Who is calling: a partner (bearer token or proxy-verified client certificate) or an admin.

Secrets are never stored: the config holds SHA-256 digests, compared in constant time.
Every failure is the same bare 401, so a caller learns nothing about which part was wrong.
Health checks and the published WSDLs are the only unauthenticated endpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable

from flask import g, request

from ak_bridge.core.errors import Unauthenticated
from ak_bridge.core.settings import Settings
from ak_bridge.service.exchange import ADMIN


def _matches(secret_hash: str, candidates: tuple[str, ...]) -> bool:
    found = False
    for c in candidates:  # no early exit: the time taken does not tell which one matched
        found |= hmac.compare_digest(secret_hash, c)
    return found


def identify(settings: Settings) -> str | None:
    """The caller's partner id, ``admin``, or None when authentication is switched off."""
    auth = settings.auth
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token and len(header) < 512:  # RFC 7235: any case
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        if _matches(digest, auth.admin_token_hashes):
            return ADMIN
        for partner in settings.partners.values():
            if partner.enabled and _matches(digest, partner.token_hashes):
                return partner.id
    if auth.client_cert_header and request.remote_addr in auth.trusted_proxies:
        fingerprint = request.headers.get(auth.client_cert_header, "").strip().lower()
        fingerprint = fingerprint.replace(":", "")
        if fingerprint:
            for partner in settings.partners.values():
                if partner.enabled and _matches(fingerprint, partner.client_cert_hashes):
                    return partner.id
    if not auth.required:
        return None
    raise Unauthenticated("authentication required")


def caller() -> str | None:
    return g.get("caller")


class RepeatedFailures:
    """Identical refusals of unidentified callers: the first is audited, repeats counted.

    2,000 bad-token requests wrote 2,006 audit rows: anyone could grow the audit trail at
    will, and the rows said nothing the first did not. A series is one (code, endpoint,
    remote address, credentials digest); within ``window`` seconds of its first row, repeats
    only add to its count, and one summary row with the count closes the series when the
    window ends (written on the next request that arrives, whatever it is).
    """

    def __init__(self, window: float = 60.0, max_series: int = 1024) -> None:
        self.window = window
        self.max_series = max_series
        self._lock = threading.Lock()
        self._series: dict[tuple[str, ...], list[float]] = {}  # key -> [opened at, repeats]
        self._ended: list[tuple[tuple[str, ...], int]] = []

    def record(self, key: tuple[str, ...], now: float) -> bool:
        """True when this failure opens a series (audit it); False when only counted."""
        with self._lock:
            entry = self._series.get(key)
            if entry is not None and now - entry[0] < self.window:
                entry[1] += 1
                return False
            if entry is not None and entry[1]:
                self._ended.append((key, int(entry[1])))
            if len(self._series) >= self.max_series:  # bounded memory: close them all early
                self._end_all(lambda _: True)
            self._series[key] = [now, 0]
            return True

    def ended(self, now: float) -> list[tuple[tuple[str, ...], int]]:
        """Series closed since the last call that had repeats: (key, repeats), once each."""
        with self._lock:
            self._end_all(lambda at: now - at >= self.window)
            out, self._ended = self._ended, []
            return out

    def _end_all(self, due: Callable[[float], bool]) -> None:
        for key in [k for k, (at, _) in self._series.items() if due(at)]:
            repeats = int(self._series.pop(key)[1])
            if repeats:
                self._ended.append((key, repeats))


def credentials_digest(settings: Settings) -> str:
    """A short digest of what the caller presented: tells series apart, reveals nothing."""
    presented = request.headers.get("Authorization", "")
    if settings.auth.client_cert_header:
        presented += "\n" + request.headers.get(settings.auth.client_cert_header, "")
    return hashlib.sha256(presented.encode("utf-8", "replace")).hexdigest()[:12]
