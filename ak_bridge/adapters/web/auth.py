"""Who is calling: a partner (bearer token or proxy-verified client certificate) or an admin.

Secrets are never stored: the config holds SHA-256 digests, compared in constant time.
Every failure is the same bare 401, so a caller learns nothing about which part was wrong.
Health checks and the published WSDLs are the only unauthenticated endpoints.
"""

from __future__ import annotations

import hashlib
import hmac

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
