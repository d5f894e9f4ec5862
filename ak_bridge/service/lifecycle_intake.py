"""Intake of messages about a CO: cancel, customs response, ack, verification, retransmission.

Who may send it (the issuing or the importing side, from our own record of the CO) →
idempotency → the rules → the next state, decided by the core → forward it at the highest
standard version the destination speaks, refused if that version cannot carry it (or, for a
retransmission request, queue the CO again under its own message id) → one transaction.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal

from ak_bridge.core import lifecycle, refusals, routing, rules, utilisation, versions
from ak_bridge.core.canonical import canonical_from_dict, hash_version
from ak_bridge.core.errors import (
    Finding,
    NotFound,
    SchemaViolation,
    ValidationFailed,
)
from ak_bridge.core.model import (
    Ack,
    AckStatus,
    BusinessReceipt,
    CertificateState,
    CustomsResponse,
    DocumentType,
    FormAK,
    ItemUtilisation,
    LifecycleMessage,
    Receipt,
    Reconsideration,
    UtilisationNotice,
    certificate_name,
)
from ak_bridge.core.reply_clock import acknowledged_due
from ak_bridge.core.settings import PartnerConfig, Settings
from ak_bridge.formats.lifecycle import LifecycleCodec
from ak_bridge.security.signing import Signer
from ak_bridge.service.ports import AuditEvent, Store
from ak_bridge.service.receipts import (
    Accepted,
    Inbound,
    Recorder,
    header_matches,
    new_id,
    rule_context,
)
from ak_bridge.service.records import CertificateRecord, DeliveryRecord, MessageRecord


class LifecycleIntake:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        codec: LifecycleCodec,
        signer: Signer,
        recorder: Recorder,
    ) -> None:
        self.settings = settings
        self.store = store
        self.codec = codec
        self.signer = signer
        self.recorder = recorder

    def accept(
        self, inbound: Inbound, partner: PartnerConfig, msg: LifecycleMessage, now: datetime
    ) -> Receipt:
        env = inbound.envelope
        step = lifecycle.step_for(msg)
        if step is None:
            raise SchemaViolation(
                f"a {type(msg).__name__} is not submitted: use the status query operation",
                box="header",
            )
        header_matches(env, msg.issuing_country, msg.reference_no)
        travels_as = (self.codec.document_type_of(msg), self.codec.function_of(msg))
        if (env.document_type, env.function) != travels_as:
            raise SchemaViolation(
                f"a {type(msg).__name__} travels as {travels_as[0]} with function "
                f"{travels_as[1]}, not {env.document_type} with {env.function}",
                box="header",
            )
        side = lifecycle.sender_side(msg, partner.country)  # raises NotAuthorized
        routing.require_role(partner, routing.ROLE_OF_SIDE[side], f"a {type(msg).__name__}")
        cert = self._certificate(msg, side, partner)
        receipt_of = isinstance(msg, (Ack, BusinessReceipt))
        acked = self._acknowledged(msg, partner) if receipt_of else None
        # Idempotency first: an identical resend gets its receipt even once the CO moved on.
        key = lifecycle.business_key(msg, str(env.function))
        body, digest = lifecycle.content_json(msg)
        existing = self.store.message_by_key(key)
        if existing is not None:
            return self.recorder.duplicate(
                inbound,
                existing,
                lambda h: h == lifecycle.content_json(msg, hash_version(h))[1],
                digest,
                now,
            )

        ctx = rule_context(self.settings, now, env.function, msg.importing_country)
        stored = self._stored_certificate(cert)
        findings = rules.check_message(msg, ctx, stored)
        if isinstance(msg, (CustomsResponse, Reconsideration)):
            findings += refusals.findings(msg, self.settings.refusal_reasons)
        if isinstance(msg, UtilisationNotice):
            findings += utilisation.findings(stored, self._earlier_utilisation(msg), msg)
        if stored is None and msg.importing_country != cert.importing_country:
            findings += (
                Finding(
                    "certificate_mismatch",
                    "header",
                    f"the message is about {msg.importing_country} as importing country, "
                    f"the CO is for {cert.importing_country}",
                ),
            )
        if rules.errors_in(findings):
            raise ValidationFailed(findings)
        acked_type = DocumentType(acked.document_type) if acked is not None else None
        new_state = lifecycle.next_state(msg, CertificateState(cert.state), acked_type)

        message_id = new_id(now)
        order_key = cert.order_key or rules.order_key(
            msg.issuing_country, cert.issuing_body, msg.reference_no
        )
        destination = None
        if step.forward:
            destination = (
                routing.sender_of(self.settings, acked.sender)
                if acked is not None
                else routing.route_country(
                    self.settings,
                    lifecycle.receiving_country(msg, side),
                    routing.ROLE_OF_SIDE["importer" if side == "issuer" else "issuer"],
                )
            )
            # the highest version the destination speaks; what it cannot read is refused
            # now (version_not_lossless), before a receipt says it is deliverable
            version = versions.message_version(msg, destination.id, destination.standard_versions)
            payload = self.signer.sign(self.codec.encode(msg, version))
            deliveries = [
                self.recorder.delivery(
                    message_id, destination, payload, "application/xml", order_key, now
                )
            ]
            events = self.recorder.events(
                now, message_id, partner, inbound.via, destination, findings
            )
        else:  # a retransmission request: the bridge serves the CO it holds, same message id
            deliveries = self._retransmission(cert, partner, now)
            events = [
                AuditEvent(now, "received", message_id, partner.id, detail=f"via {inbound.via}"),
                AuditEvent(
                    now,
                    "retransmission_queued",
                    cert.last_message_id,
                    partner.id,
                    detail=f"asked for again in {message_id}",
                ),
            ]
        if isinstance(msg, Ack) and acked is not None:
            events += self._receipt_events(msg, acked, side, message_id, partner, now)
        events.append(
            AuditEvent(
                now,
                "state_changed",
                message_id,
                partner.id,
                detail=f"{self._name(cert)}: {cert.state} -> {new_state}",
            )
        )
        accepted = Accepted(
            message=self.recorder.message(
                inbound,
                message_id,
                partner,
                destination,
                (msg.issuing_country, msg.reference_no),
                key,
                digest,
                body,
                now,
                issuing_body=cert.issuing_body,
            ),
            deliveries=deliveries,
            events=events,
            receipt=Receipt(message_id, "accepted", now, msg.reference_no, findings),
            certificates=[dataclasses.replace(cert, state=str(new_state), updated_at=now)],
            expect={(msg.issuing_country, cert.issuing_body, msg.reference_no): cert.state},
        )
        return self.recorder.store_accepted(inbound, accepted)

    def _certificate(
        self, msg: LifecycleMessage, side: lifecycle.Side, partner: PartnerConfig
    ) -> CertificateRecord:
        """The CO the message is about: its issuing body is part of its identity (1.1).

        Who the CO is addressed to comes from our own record, which a purge keeps. A CO
        addressed to another country "does not exist" for this partner: the same answer as
        for a missing one, so nobody learns which of another country's numbers exist. A
        message naming no body addresses the CO that names none; if a body's CO this partner
        may see has that number too, the message is refused rather than guessed at.
        """

        def visible(body: str) -> CertificateRecord | None:
            cert = self.store.certificate(msg.issuing_country, msg.reference_no, body)
            if cert is None or (side == "importer" and cert.importing_country != partner.country):
                return None
            return cert

        about = f"{msg.issuing_country}/{msg.reference_no}"
        if msg.issuing_body:
            cert = visible(msg.issuing_body)
            if cert is None:
                name = certificate_name(msg.issuing_country, msg.reference_no, msg.issuing_body)
                raise NotFound(f"no certificate {name}", box="header")
            return cert
        bodies = [
            b
            for b in self.store.certificates_numbered(msg.issuing_country, msg.reference_no)
            if b and visible(b) is not None
        ]
        if bodies:
            raise NotFound(
                f"the message names no issuing body, and {about} is issued by "
                f"{' and by '.join(bodies)}: name the CO's IssuingBody in its "
                "ReferencedCertificate (e-Form AK messages 1.1)",
                box="header",
            )
        cert = visible("")
        if cert is None:
            raise NotFound(f"no certificate {about}", box="header")
        return cert

    @staticmethod
    def _name(cert: CertificateRecord) -> str:
        return certificate_name(cert.issuing_country, cert.reference_no, cert.issuing_body)

    def _earlier_utilisation(self, msg: UtilisationNotice) -> list[UtilisationNotice]:
        """The CO's utilisation notices accepted before (purged ones no longer count)."""
        out = []
        for m in self.store.messages_for_certificate(
            msg.issuing_country, msg.reference_no, msg.issuing_body or ""
        ):
            if m.document_type != DocumentType.UTILISATION_NOTICE:
                continue
            full = self.store.message(m.id)  # the timeline's rows carry no document
            if full is not None and full.canonical:
                d = json.loads(full.canonical)
                items = tuple(
                    ItemUtilisation(i["item_no"], Decimal(i["quantity"]), i["unit"])
                    for i in d.pop("items")
                )
                used_on = date.fromisoformat(d.pop("used_on"))
                out.append(UtilisationNotice(**d, used_on=used_on, items=items))
        return out

    def _acknowledged(self, msg: Ack | BusinessReceipt, partner: PartnerConfig) -> MessageRecord:
        """The message an Ack is the receipt of: about this CO, and sent to this partner.

        Anything else "does not exist" for the partner, like another country's CO.
        """
        acked = self.store.message(msg.message_id)
        if (
            acked is None
            or (acked.issuing_country, acked.issuing_body, acked.reference_no)
            != (msg.issuing_country, msg.issuing_body or "", msg.reference_no)
            or acked.receiver != partner.id
        ):
            raise NotFound(
                f"no message {msg.message_id} about {msg.issuing_country}/{msg.reference_no} "
                "was sent to you",
                box="header",
            )
        return acked

    @staticmethod
    def _receipt_events(
        msg: Ack,
        acked: MessageRecord,
        side: lifecycle.Side,
        message_id: str,
        partner: PartnerConfig,
        now: datetime,
    ) -> list[AuditEvent]:
        """What an acknowledgement tells the audit trail (and the CO's timeline)."""
        about = f"{msg.issuing_country}/{msg.reference_no}"
        if msg.status is AckStatus.REJECTED:
            return [
                AuditEvent(
                    now,
                    "acknowledged_rejected",
                    message_id,
                    partner.id,
                    detail=f"{about}: {acked.document_type} {acked.id} rejected by the recipient",
                )
            ]
        started = lifecycle.reply_clock_start(
            msg, DocumentType(acked.document_type), side, now.date()
        )
        if started is None:
            return []
        return [
            AuditEvent(
                now,
                "verification_request_received",
                message_id,
                partner.id,
                detail=f"{about}: request {acked.id} received on {started}; reply due "
                f"{acknowledged_due(started)} (2 months from receipt)",
            )
        ]

    def _retransmission(
        self, cert: CertificateRecord, partner: PartnerConfig, now: datetime
    ) -> list[DeliveryRecord]:
        previous = [
            d
            for d in self.store.deliveries_for(cert.last_message_id or "")
            if d.destination == partner.id
        ]
        if not previous:
            raise NotFound("this CO was never sent to you through the bridge", box="header")
        last = previous[-1]
        if not last.payload:
            raise NotFound(
                "this CO's documents were purged after the retention period", box="header"
            )
        return [
            self.recorder.delivery(
                last.message_id, partner, last.payload, last.content_type, last.order_key, now
            )
        ]

    def _stored_certificate(self, cert: CertificateRecord) -> FormAK | None:
        """The CO as it was accepted (None once its documents were purged)."""
        message = self.store.message(cert.last_message_id) if cert.last_message_id else None
        if message is None or not message.canonical:
            return None
        return canonical_from_dict(json.loads(message.canonical))
