"""How an accepted message is recorded and answered, for every kind of intake.

One place builds the message, delivery and audit records, stores them in one transaction
and answers: the receipt, the original receipt for a resend (whichever instance took the
first), or a conflict kept for the admin. Intakes decide; this module writes their decision.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ak_bridge.core import routing, rules
from ak_bridge.core.errors import DuplicateConflict, Finding, SchemaViolation
from ak_bridge.core.model import DeliveryStatus, Envelope, MessageFunction, Receipt
from ak_bridge.core.settings import IMPORT_CUSTOMS, PartnerConfig, Settings
from ak_bridge.service.ports import AuditEvent, DuplicateKey, Store, from_iso
from ak_bridge.service.records import CertificateRecord, DeliveryRecord, MessageRecord


@dataclass(frozen=True)
class Inbound:
    """A message as an inbound adapter received it, before any trust is given to it."""

    via: str  # e.g. "soap/kcs", "soap/ams", "rest"
    envelope: Envelope
    xml: bytes | None = None
    json: Mapping[str, Any] | None = None
    json_signature: bytes | None = None
    caller: str | None = None  # authenticated partner id, when authentication is on

    @property
    def raw(self) -> bytes:
        """The bytes as received, kept as evidence."""
        return self.xml if self.xml is not None else json_bytes(self.json)


@dataclass
class Accepted:
    """Everything one accepted message writes, built by an intake, stored at once."""

    message: MessageRecord
    deliveries: list[DeliveryRecord]
    events: list[AuditEvent]
    receipt: Receipt
    certificates: list[CertificateRecord] = field(default_factory=list)
    expect: dict[tuple[str, str, str], str | None] = field(default_factory=dict)


def new_id(now: datetime) -> str:
    """Unique across instances: a time prefix for humans, 40 random bits for uniqueness."""
    return f"AKB-{now:%Y%m%d%H%M%S}-{secrets.token_hex(5)}"


def json_bytes(obj: Mapping[str, Any] | None) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def header_matches(env: Envelope, issuing_country: str, reference_no: str) -> None:
    """The header, if it names the CO, names the one the signed document is about."""
    if env.reference_no is not None and env.reference_no != reference_no:
        raise SchemaViolation(
            f"the header names CO {env.reference_no!r}, the signed document {reference_no!r}",
            box="header",
        )
    if env.issuing_country is not None and env.issuing_country != issuing_country:
        raise SchemaViolation(
            f"the header names issuing country {env.issuing_country!r}, the signed document "
            f"{issuing_country!r}",
            box="header",
        )


def rule_context(
    settings: Settings, now: datetime, function: MessageFunction, importer: str
) -> rules.RuleContext:
    destination = routing.partner_in_role(settings, importer, IMPORT_CUSTOMS)
    return rules.RuleContext(
        today=(now + timedelta(hours=14)).date(),  # the earliest time zone on Earth
        function=function,
        importer_rules=destination.rules if destination else {},
        calendars=settings.calendars,  # each Party's working days, for "issued retroactively"
    )


class Recorder:
    """Builds and stores what an intake accepted; answers resends and conflicts."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def message(
        inbound: Inbound,
        message_id: str,
        partner: PartnerConfig,
        destination: PartnerConfig | None,
        about: tuple[str | None, str | None],
        key: str,
        digest: str,
        canonical: str | None,
        now: datetime,
        document_type: str | None = None,
        issuing_body: str = "",
    ) -> MessageRecord:
        return MessageRecord(
            id=message_id,
            direction="in",
            sender=partner.id,
            receiver=destination.id if destination else None,
            via=inbound.via,
            document_type=document_type or str(inbound.envelope.document_type),
            function=str(inbound.envelope.function),
            partner_message_id=inbound.envelope.message_id,
            issuing_country=about[0],
            reference_no=about[1],
            issuing_body=issuing_body,
            business_key=key,
            content_hash=digest,
            raw=inbound.raw,
            canonical=canonical,
            created_at=now,
        )

    @staticmethod
    def delivery(
        message_id: str,
        destination: PartnerConfig,
        payload: bytes,
        content_type: str,
        order_key: str,
        now: datetime,
    ) -> DeliveryRecord:
        return DeliveryRecord(
            message_id=message_id,
            destination=destination.id,
            channel=str(destination.channel),
            status=str(DeliveryStatus.PENDING),
            order_key=order_key,
            payload=payload,
            content_type=content_type,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )

    @staticmethod
    def events(
        now: datetime,
        message_id: str,
        partner: PartnerConfig,
        via: str,
        destination: PartnerConfig,
        findings: Sequence[Finding],
    ) -> list[AuditEvent]:
        return [
            AuditEvent(now, "received", message_id, partner.id, detail=f"via {via}"),
            AuditEvent(
                now,
                "queued",
                message_id,
                destination.id,
                detail=f"for {destination.id} as {destination.format}",
            ),
        ] + [
            AuditEvent(now, "warning", message_id, partner.id, f.code, f.box, detail=f.message)
            for f in findings
        ]

    def store_accepted(self, inbound: Inbound, accepted: Accepted) -> Receipt:
        """All of it in one transaction, or the receipt of the twin that won the race.

        ``accepted.expect``: the CO states this was decided on; if one changed meanwhile the
        store raises ``StateChanged`` and the exchange decides again.
        """
        message = accepted.message
        try:
            self.store.accept(
                message,
                accepted.deliveries,
                accepted.events,
                accepted.certificates,
                accepted.expect,
            )
        except DuplicateKey:
            existing = self.store.message_by_key(message.business_key or "")
            if existing is None:
                raise
            digest = message.content_hash or ""
            return self.duplicate(
                inbound, existing, lambda h: h == digest, digest, message.created_at
            )
        return accepted.receipt

    def duplicate(
        self,
        inbound: Inbound,
        existing: MessageRecord,
        same: Callable[[str], bool],
        digest: str,
        now: datetime,
    ) -> Receipt:
        """A resend gets the original receipt (its id and time), from whichever instance.

        ``same`` compares with the stored hash as its own version made it; other content
        under the same key is a conflict, kept for the admin and refused.
        """
        env = inbound.envelope
        if same(existing.content_hash or ""):
            self.store.audit(
                AuditEvent(
                    now,
                    "duplicate",
                    existing.id,
                    env.sender,
                    detail=f"resent as {env.message_id}; original receipt returned",
                )
            )
            return Receipt(
                existing.id, "duplicate", from_iso(existing.created_at), existing.reference_no
            )
        conflict_id = new_id(now)
        self.store.accept(
            MessageRecord(
                id=conflict_id,
                direction="conflict",
                sender=env.sender,
                via=inbound.via,
                document_type=str(env.document_type),
                function=str(env.function),
                partner_message_id=env.message_id,
                issuing_country=existing.issuing_country,
                reference_no=existing.reference_no,
                content_hash=digest,
                raw=inbound.raw,
                created_at=now,
            ),
            [],
            [
                AuditEvent(
                    now,
                    "conflict_kept",
                    conflict_id,
                    env.sender,
                    DuplicateConflict.code,
                    "header",
                    detail=f"conflicts with {existing.id}; kept for the admin",
                )
            ],
        )
        raise DuplicateConflict(
            f"certificate {existing.reference_no} was already received with other content "
            f"(as {existing.id}); a correction needs a new reference number (Replace)",
            box="header",
        )
