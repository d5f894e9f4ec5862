"""Form D is not ak-bridge's business: refused with a pointer to the ASW, or passed on raw.

Only when an ASW gateway is configured does a Form D go anywhere: the bytes received, never
parsed or translated, to that gateway, with a receipt that says so.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from ak_bridge.core import routing
from ak_bridge.core.model import DocumentType, Receipt
from ak_bridge.core.settings import PartnerConfig, Settings
from ak_bridge.service.ports import AuditEvent, Store
from ak_bridge.service.receipts import Accepted, Inbound, Recorder, new_id


class FormDForwarder:
    def __init__(self, settings: Settings, store: Store, recorder: Recorder) -> None:
        self.settings = settings
        self.store = store
        self.recorder = recorder

    def forward(self, inbound: Inbound, partner: PartnerConfig, now: datetime) -> Receipt:
        asw = routing.form_d_destination(self.settings)  # raises FormDNotAccepted
        return self.pass_on(
            inbound,
            partner,
            now,
            asw,
            str(DocumentType.FORM_D),
            "passed unchanged to the ASW gateway; not processed",
            "forwarded_to_asw",
        )

    def forward_agreement(
        self, inbound: Inbound, partner: PartnerConfig, now: datetime, agreement: str
    ) -> Receipt:
        """Another FTA's message (IK-CEPA, VKFTA, ...) to its configured gateway, or refused.

        Recorded as ``<agreement>:<document type>`` so no AKFTA count includes it.
        """
        gateway = routing.agreement_destination(self.settings, agreement)
        return self.pass_on(
            inbound,
            partner,
            now,
            gateway,
            f"{agreement}:{inbound.envelope.document_type}",
            f"{agreement}: passed unchanged to its gateway; not processed",
            "forwarded_to_gateway",
        )

    def pass_on(
        self,
        inbound: Inbound,
        partner: PartnerConfig,
        now: datetime,
        asw: PartnerConfig,
        kind: str,
        note: str,
        status: str,
    ) -> Receipt:
        raw = inbound.raw
        env = inbound.envelope
        # Never parsed, so no business key: the same bytes from the same sender again are
        # a resend (its original receipt), not a second Form D for the ASW.
        digest = hashlib.sha256(raw).hexdigest()
        key = f"{kind}|{partner.id}|{digest}"
        existing = self.store.message_by_key(key)
        if existing is not None:
            return self.recorder.duplicate(inbound, existing, lambda h: h == digest, digest, now)
        message_id = new_id(now)
        message = self.recorder.message(
            inbound,
            message_id,
            partner,
            asw,
            (None, env.reference_no),
            key,
            digest,
            None,
            now,
            document_type=kind,
        )
        accepted = Accepted(
            message=message,
            deliveries=[
                self.recorder.delivery(message_id, asw, raw, "application/xml", message_id, now)
            ],
            events=[
                AuditEvent(
                    now,
                    "form_d_forwarded" if status == "forwarded_to_asw" else "agreement_forwarded",
                    message_id,
                    asw.id,
                    detail=note,
                )
            ],
            receipt=Receipt(message_id, status, now, env.reference_no),
        )
        return self.recorder.store_accepted(inbound, accepted)
