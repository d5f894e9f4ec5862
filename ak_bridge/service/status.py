"""A CO's state and timeline, for either side of the exchange (and the admin).

A partner reads only what it sent or received: another country's CO "does not exist" for it,
and the other side's refusals and warnings are that side's own business.
"""

from __future__ import annotations

from typing import Any

from ak_bridge.core.errors import NotFound
from ak_bridge.core.model import certificate_name
from ak_bridge.core.settings import Settings
from ak_bridge.service.ports import Store

ADMIN = "admin"  # the caller id of an authenticated administrator
PRIVATE_EVENTS = frozenset({"rejected", "conflict_kept", "warning"})  # the sender's own business


def certificate_status(
    settings: Settings,
    store: Store,
    issuing_country: str,
    reference_no: str,
    caller: str | None = None,
    issuing_body: str = "",
) -> dict[str, Any]:
    """``issuing_body`` is part of the CO's key (1.1; '' : the CO that names none)."""
    about = certificate_name(issuing_country, reference_no, issuing_body)
    cert = store.certificate(issuing_country, reference_no, issuing_body)
    if cert is None:
        raise NotFound(f"no certificate {about}", box="header")
    if caller is not None and caller != ADMIN:
        allowed = {issuing_country, cert.importing_country}
        partner = settings.partner(caller)
        if partner is None or partner.country not in allowed:
            raise NotFound(f"no certificate {about}", box="header")
    events = []
    for m in store.messages_for_certificate(issuing_country, reference_no, issuing_body):
        own = caller in (None, ADMIN, m.sender)
        for a in store.audit_for(m.id):
            if a.event in PRIVATE_EVENTS and not own:
                continue
            events.append({"at": a.at, "name": a.event, "message_id": m.id, "detail": a.detail})
    events.sort(key=lambda e: e["at"])
    return {"state": cert.state, "certificate": cert, "events": events}
