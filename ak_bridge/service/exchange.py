"""The service layer: accept a message, and deliver what is due.

accept:  partner → Form D? → verify signature (only the signed element is used after) →
         decode to canonical → rules → idempotency → route → encode → sign →
         store message + delivery + audit in one transaction → receipt.
deliver: claim due deliveries → send through the channel's Sender → record the attempt →
         delivered | waiting_retry (backoff) | dead.

It owns the ``Sender`` port; outbound adapters satisfy it structurally, so this module never
imports zeep, requests or Flask. Time and randomness are injected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from ak_bridge.core import lifecycle, routing, rules
from ak_bridge.core.canonical import (
    canonical_from_dict,
    canonical_record,
    hash_version,
    same_content,
)
from ak_bridge.core.errors import (
    CertificateStateConflict,
    DuplicateConflict,
    Finding,
    NotAuthorized,
    NotFound,
    Rejected,
    SchemaViolation,
    SignatureInvalid,
    ValidationFailed,
)
from ak_bridge.core.model import (
    CertificateState,
    DeliveryStatus,
    DocumentType,
    Envelope,
    FormAK,
    MessageFunction,
    Receipt,
)
from ak_bridge.core.settings import Channel, PartnerConfig, Settings
from ak_bridge.formats import Codec
from ak_bridge.formats.lifecycle import LifecycleCodec
from ak_bridge.security.signing import Signer, Verifier
from ak_bridge.security.xmlio import parse_untrusted
from ak_bridge.service.delivery import Deliverer, DeliveryReport, Sender
from ak_bridge.service.ports import (
    AuditEvent,
    DuplicateKey,
    StateChanged,
    Store,
    from_iso,
    iso,
)

log = logging.getLogger(__name__)

ADMIN = "admin"  # the caller id of an authenticated administrator
AUDIT_DETAIL_MAX = 1000
PRIVATE_EVENTS = frozenset({"rejected", "conflict_kept", "warning"})  # the sender's own business
STATE_RACE_RETRIES = 3  # decide again when another message about the CO committed first


@dataclass(frozen=True)
class Inbound:
    """A message as an inbound adapter received it, before any trust is given to it."""

    via: str  # e.g. "soap/kcs", "soap/ams", "rest"
    envelope: Envelope
    xml: bytes | None = None
    json: Mapping[str, Any] | None = None
    json_signature: bytes | None = None
    caller: str | None = None  # authenticated partner id, when authentication is on


def _new_id(now: datetime) -> str:
    return f"AKB-{now:%Y%m%d%H%M%S}-{secrets.token_hex(5)}"


class Exchange:
    """Accepts messages and delivers them; every collaborator is injected."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        codecs: Mapping[str, Codec],
        signer: Signer,
        verifiers: Mapping[str, Verifier],
        senders: Mapping[Channel, Sender],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rand: Callable[[], float] = lambda: secrets.randbelow(10**6) / 10**6,
        worker_id: str = "worker",
    ) -> None:
        self.settings = settings
        self.store = store
        self.codecs = codecs
        self.signer = signer
        self.verifiers = verifiers
        self.senders = senders
        self.clock = clock
        self.rand = rand
        self.worker_id = worker_id
        self.lifecycle = LifecycleCodec()
        # The deliverer reads the clock through us, so a clock set later is used too.
        self.deliverer = Deliverer(
            settings, store, senders, lambda: self.clock(), lambda: self.rand(), worker_id
        )

    # -- accept -------------------------------------------------------------------------

    def accept(self, inbound: Inbound) -> Receipt:
        """Accept a message durably or refuse it with a typed, audited error."""
        try:
            for _ in range(STATE_RACE_RETRIES):
                try:
                    return self._accept(inbound)
                except StateChanged:
                    continue  # the CO moved on meanwhile: decide again on its fresh state
            raise CertificateStateConflict(
                "the certificate changed while this message was being accepted; send it again",
                box="header",
            )
        except Rejected as exc:
            self.audit_rejection(
                exc, inbound.via, inbound.envelope.sender, inbound.envelope.message_id
            )
            raise

    def audit_rejection(
        self, exc: Rejected, via: str, partner: str | None = None, message_id: str | None = None
    ) -> None:
        """Record a refusal once, whichever layer refused (nothing else is stored)."""
        if exc.audited:
            return
        about = f"{via} message {message_id}" if message_id else via
        self.store.audit(
            AuditEvent(
                self.clock(),
                "rejected",
                partner=partner,
                code=exc.code,
                box=exc.box,
                detail=f"{about}: {exc.detail}"[:AUDIT_DETAIL_MAX],  # attacker text is capped
            )
        )
        exc.audited = True

    def _accept(self, inbound: Inbound) -> Receipt:
        env = inbound.envelope
        now = self.clock()
        partner = routing.sender_partner(self.settings, env)
        if inbound.caller is not None and inbound.caller != partner.id:
            raise NotAuthorized(
                f"caller {inbound.caller} may not send as {partner.id}", box="header"
            )
        root = parse_untrusted(inbound.xml) if inbound.xml is not None else None
        if routing.is_form_d(env, root):
            return self._forward_form_d(inbound, partner, now)

        document = self._verified_document(inbound, partner)  # only signed content from here
        if isinstance(document, etree._Element) and self.lifecycle.recognizes(document):
            return self._accept_lifecycle(inbound, partner, self.lifecycle.decode(document), now)
        if env.document_type is not DocumentType.FORM_AK:
            raise SchemaViolation(
                f"a {env.document_type} header needs its lifecycle message document",
                box="header",
            )
        codec = self.codecs[partner.format]
        if (codec.kind == "json") != isinstance(document, dict):
            raise SchemaViolation(
                f"{partner.id} sends its certificates as {partner.format} ({codec.kind})",
                box="header",
            )
        return self._accept_certificate(inbound, partner, codec.decode(document), now)

    def _verified_document(
        self, inbound: Inbound, partner: PartnerConfig
    ) -> etree._Element | dict[str, Any]:
        """Verify the sender's signature; return only what it signed."""
        verifier = self.verifiers[partner.id]
        if inbound.json is not None:
            if inbound.json_signature is None:
                raise SignatureInvalid("a JSON document needs its signature", box="header")
            verifier.verify_json(inbound.json, inbound.json_signature)
            return dict(inbound.json)
        if inbound.xml is None:
            raise SchemaViolation("the message carries no document", box="header")
        return verifier.verify(inbound.xml)

    def _rule_context(
        self, now: datetime, function: MessageFunction, importer: str
    ) -> rules.RuleContext:
        destination = self.settings.partner_for_country(importer)
        return rules.RuleContext(
            today=(now + timedelta(hours=14)).date(),  # the earliest time zone on Earth
            function=function,
            importer_rules=destination.rules if destination else {},
        )

    def _accept_certificate(
        self, inbound: Inbound, partner: PartnerConfig, co: FormAK, now: datetime
    ) -> Receipt:
        """An Issue (function 9) or a Replace (function 5) of a certificate."""
        env = inbound.envelope
        _header_matches(env, co.issuing_country, co.reference_no)
        if co.issuing_country != partner.country:
            raise NotAuthorized(
                f"{partner.id} may only submit certificates issued in {partner.country}, "
                f"not {co.issuing_country}",
                box="header",
            )
        if env.function is not rules.implied_function(co):
            raise SchemaViolation(
                f"the header says function {env.function}, but the certificate "
                f"{'replaces' if co.is_replacement else 'does not replace'} another CO "
                "(Issue is 9, Replace is 5)",
                box="header",
            )
        # Idempotency first: an identical resend gets its receipt even once the CO moved on.
        key = f"{co.issuing_country}|{co.reference_no}|{env.function}"
        canonical_json, digest = canonical_record(co)
        existing = self.store.message_by_key(key)
        if existing is not None:
            return self._duplicate(inbound, existing, lambda h: same_content(h, co), digest, now)
        if self.store.certificate(co.issuing_country, co.reference_no) is not None:
            # The same submission may have committed on another instance since our look-up:
            # the CO and its message are written together, so look again before refusing.
            existing = self.store.message_by_key(key)
            if existing is not None:
                return self._duplicate(
                    inbound, existing, lambda h: same_content(h, co), digest, now
                )
            raise DuplicateConflict(
                f"reference number {co.issuing_country}/{co.reference_no} is already used by "
                "another certificate; a new or corrected CO needs a new number",
                box="header",
            )

        route = routing.route_certificate(self.settings, co.importing_country)
        findings = rules.check(co, self._rule_context(now, env.function, co.importing_country))
        if rules.errors_in(findings):
            raise ValidationFailed(findings)

        order_key = f"{co.issuing_country}|{co.reference_no}"
        certificates: list[dict[str, Any]] = []
        expect: dict[tuple[str, str], str | None] = {(co.issuing_country, co.reference_no): None}
        if co.is_replacement:
            replaced = self.store.certificate(co.issuing_country, co.replaces_reference_no or "")
            if replaced is None:
                raise NotFound(
                    f"the CO it replaces, {co.issuing_country}/{co.replaces_reference_no}, "
                    "is not known here",
                    box="header",
                )
            lifecycle.replacement_allowed(CertificateState(replaced["state"]))
            expect[(co.issuing_country, replaced["reference_no"])] = replaced["state"]
            order_key = replaced["order_key"] or order_key  # never overtake the original
            certificates.append(
                {
                    "issuing_country": co.issuing_country,
                    "reference_no": replaced["reference_no"],
                    "state": str(CertificateState.REPLACED),
                    "replaced_by": co.reference_no,
                    "updated_at": iso(now),
                }
            )

        message_id = _new_id(now)
        payload, content_type = self._render(co, route.destination)
        message = self._message_row(
            inbound,
            message_id,
            partner,
            route.destination,
            co.issuing_country,
            co.reference_no,
            key,
            digest,
            canonical_json,
            now,
        )
        delivery = self._delivery_row(
            message_id, route.destination, payload, content_type, order_key, now
        )
        events = self._events(now, message_id, partner, inbound.via, route.destination, findings)
        if co.is_replacement:
            events.append(
                AuditEvent(
                    now,
                    "replaces",
                    message_id,
                    partner.id,
                    detail=f"replaces {co.replaces_reference_no}",
                )
            )
        certificates.append(
            {
                "issuing_country": co.issuing_country,
                "reference_no": co.reference_no,
                "importing_country": co.importing_country,
                "state": str(CertificateState.ISSUED),
                "issue_date": co.issue_date.isoformat(),
                "order_key": order_key,
                "last_message_id": message_id,
                "updated_at": iso(now),
            }
        )
        receipt = Receipt(message_id, "accepted", now, co.reference_no, findings)
        return self._store_accepted(
            inbound, key, digest, now, (message, [delivery], events, certificates), receipt, expect
        )

    def _accept_lifecycle(
        self, inbound: Inbound, partner: PartnerConfig, msg: Any, now: datetime
    ) -> Receipt:
        """A message about a CO: cancel, customs response, ack, verification, retransmission."""
        env = inbound.envelope
        step = lifecycle.step_for(msg)
        if step is None:
            raise SchemaViolation(
                f"a {type(msg).__name__} is not submitted: use the status query operation",
                box="header",
            )
        _header_matches(env, msg.issuing_country, msg.reference_no)
        travels_as = (self.lifecycle.document_type_of(msg), self.lifecycle.function_of(msg))
        if (env.document_type, env.function) != travels_as:
            raise SchemaViolation(
                f"a {type(msg).__name__} travels as {travels_as[0]} with function "
                f"{travels_as[1]}, not {env.document_type} with {env.function}",
                box="header",
            )
        if partner.country != lifecycle.sending_country(msg):
            raise NotAuthorized(
                f"only the {step.sender} side ({lifecycle.sending_country(msg)}) may send a "
                f"{type(msg).__name__} about {msg.issuing_country}/{msg.reference_no}",
                box="header",
            )
        cert = self.store.certificate(msg.issuing_country, msg.reference_no)
        if cert is None:
            raise NotFound(f"no certificate {msg.issuing_country}/{msg.reference_no}", box="header")
        # Who the CO is addressed to comes from our own record, which a purge keeps.
        if step.sender == "importer" and cert["importing_country"] != partner.country:
            raise NotAuthorized(
                f"{msg.issuing_country}/{msg.reference_no} is not addressed to {partner.country}",
                box="header",
            )
        # Idempotency first: an identical resend gets its receipt even once the CO moved on.
        key = lifecycle.business_key(msg, str(env.function))
        body, digest = lifecycle.content_json(msg)
        existing = self.store.message_by_key(key)
        if existing is not None:
            return self._duplicate(
                inbound,
                existing,
                lambda h: h == lifecycle.content_json(msg, hash_version(h))[1],
                digest,
                now,
            )

        ctx = self._rule_context(now, env.function, msg.importing_country)
        stored = self._stored_certificate(cert)
        findings = rules.check_message(msg, ctx, stored)
        if stored is None and msg.importing_country != cert["importing_country"]:
            findings += (
                Finding(
                    "certificate_mismatch",
                    "header",
                    f"the message is about {msg.importing_country} as importing country, "
                    f"the CO is for {cert['importing_country']}",
                ),
            )
        if rules.errors_in(findings):
            raise ValidationFailed(findings)
        new_state = lifecycle.next_state(msg, CertificateState(cert["state"]))

        message_id = _new_id(now)
        order_key = cert["order_key"] or f"{msg.issuing_country}|{msg.reference_no}"
        destination = None
        if step.forward:
            destination = routing.route_country(self.settings, lifecycle.receiving_country(msg))
            payload = self.signer.sign(self.lifecycle.encode(msg))
            deliveries = [
                self._delivery_row(
                    message_id, destination, payload, "application/xml", order_key, now
                )
            ]
            events = self._events(now, message_id, partner, inbound.via, destination, findings)
        else:  # a retransmission request: the bridge serves the CO it holds, same message id
            deliveries = self._retransmission(cert, partner, now)
            events = [
                AuditEvent(now, "received", message_id, partner.id, detail=f"via {inbound.via}"),
                AuditEvent(
                    now,
                    "retransmission_queued",
                    cert["last_message_id"],
                    partner.id,
                    detail=f"asked for again in {message_id}",
                ),
            ]
        events.append(
            AuditEvent(
                now,
                "state_changed",
                message_id,
                partner.id,
                detail=f"{msg.issuing_country}/{msg.reference_no}: {cert['state']} -> {new_state}",
            )
        )
        message = self._message_row(
            inbound,
            message_id,
            partner,
            destination,
            msg.issuing_country,
            msg.reference_no,
            key,
            digest,
            body,
            now,
        )
        certificate = {
            "issuing_country": msg.issuing_country,
            "reference_no": msg.reference_no,
            "state": str(new_state),
            "updated_at": iso(now),
        }
        receipt = Receipt(message_id, "accepted", now, msg.reference_no, findings)
        expect = {(msg.issuing_country, msg.reference_no): cert["state"]}
        return self._store_accepted(
            inbound, key, digest, now, (message, deliveries, events, [certificate]), receipt, expect
        )

    def _retransmission(
        self, cert: Mapping[str, Any], partner: PartnerConfig, now: datetime
    ) -> list[dict[str, Any]]:
        previous = [
            d
            for d in self.store.deliveries_for(cert["last_message_id"])
            if d["destination"] == partner.id
        ]
        if not previous:
            raise NotFound("this CO was never sent to you through the bridge", box="header")
        last = previous[-1]
        if not last["payload"]:
            raise NotFound(
                "this CO's documents were purged after the retention period", box="header"
            )
        return [
            self._delivery_row(
                last["message_id"],
                partner,
                last["payload"],
                last["content_type"],
                last["order_key"],
                now,
            )
        ]

    def _stored_certificate(self, cert: Mapping[str, Any]) -> FormAK | None:
        """The CO as it was accepted (None once its documents were purged)."""
        last = cert["last_message_id"]
        message = self.store.message(last) if last else None
        if message is None or not message["canonical"]:
            return None
        return canonical_from_dict(json.loads(message["canonical"]))

    @staticmethod
    def _message_row(
        inbound: Inbound,
        message_id: str,
        partner: PartnerConfig,
        destination: PartnerConfig | None,
        issuing_country: str,
        reference_no: str,
        key: str,
        digest: str,
        canonical: str,
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "id": message_id,
            "direction": "in",
            "sender": partner.id,
            "receiver": destination.id if destination else None,
            "via": inbound.via,
            "document_type": str(inbound.envelope.document_type),
            "function": str(inbound.envelope.function),
            "partner_message_id": inbound.envelope.message_id,
            "issuing_country": issuing_country,
            "reference_no": reference_no,
            "business_key": key,
            "content_hash": digest,
            "raw": inbound.xml if inbound.xml is not None else _json_bytes(inbound.json),
            "canonical": canonical,
            "created_at": iso(now),
        }

    @staticmethod
    def _events(
        now: datetime,
        message_id: str,
        partner: PartnerConfig,
        via: str,
        destination: PartnerConfig,
        findings: tuple[Finding, ...],
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

    def _store_accepted(
        self,
        inbound: Inbound,
        key: str,
        digest: str,
        now: datetime,
        rows: tuple[dict[str, Any], list[dict[str, Any]], list[AuditEvent], list[dict[str, Any]]],
        receipt: Receipt,
        expect: Mapping[tuple[str, str], str | None],
    ) -> Receipt:
        """Message, deliveries, audit and CO states in one transaction, or a duplicate.

        ``expect``: the CO states this was decided on; if one changed meanwhile, the store
        raises ``StateChanged`` and ``accept`` decides again.
        """
        message, deliveries, events, certificates = rows
        try:
            self.store.accept(message, deliveries, events, certificates, expect)
        except DuplicateKey:
            # An identical submission won the race between our check and our insert.
            existing = self.store.message_by_key(key)
            if existing is None:
                raise
            return self._duplicate(inbound, existing, lambda h: h == digest, digest, now)
        return receipt

    def _duplicate(
        self,
        inbound: Inbound,
        existing: Mapping[str, Any],
        same: Callable[[str], bool],
        digest: str,
        now: datetime,
    ) -> Receipt:
        """A resend gets the original receipt (its id and time), from whichever instance took it.

        ``same`` compares with the stored hash as its own version made it; other content
        under the same key is a conflict, kept for the admin and refused.
        """
        if same(existing["content_hash"]):
            self.store.audit(
                AuditEvent(
                    now,
                    "duplicate",
                    existing["id"],
                    inbound.envelope.sender,
                    detail=f"resent as {inbound.envelope.message_id}; original receipt returned",
                )
            )
            received = from_iso(existing["created_at"])
            return Receipt(existing["id"], "duplicate", received, existing["reference_no"])
        conflict_id = _new_id(now)
        self.store.accept(
            {
                "id": conflict_id,
                "direction": "conflict",
                "sender": inbound.envelope.sender,
                "via": inbound.via,
                "document_type": str(inbound.envelope.document_type),
                "function": str(inbound.envelope.function),
                "partner_message_id": inbound.envelope.message_id,
                "issuing_country": existing["issuing_country"],
                "reference_no": existing["reference_no"],
                "content_hash": digest,
                "raw": inbound.xml if inbound.xml is not None else _json_bytes(inbound.json),
                "created_at": iso(now),
            },
            [],
            [
                AuditEvent(
                    now,
                    "conflict_kept",
                    conflict_id,
                    inbound.envelope.sender,
                    DuplicateConflict.code,
                    "header",
                    detail=f"conflicts with {existing['id']}; kept for the admin",
                )
            ],
        )
        raise DuplicateConflict(
            f"certificate {existing['reference_no']} was already received with other content "
            f"(as {existing['id']}); a correction needs a new reference number (Replace)",
            box="header",
        )

    def _forward_form_d(self, inbound: Inbound, partner: PartnerConfig, now: datetime) -> Receipt:
        asw = routing.form_d_destination(self.settings)  # raises FormDNotAccepted
        raw = inbound.xml if inbound.xml is not None else _json_bytes(inbound.json)
        env = inbound.envelope
        # Never parsed, so no business key: the same bytes from the same sender again are
        # a resend (its original receipt), not a second Form D for the ASW.
        digest = hashlib.sha256(raw).hexdigest()
        key = f"FORM_D|{partner.id}|{digest}"
        existing = self.store.message_by_key(key)
        if existing is not None:
            return self._duplicate(inbound, existing, lambda h: h == digest, digest, now)
        message_id = _new_id(now)
        message = {
            "id": message_id,
            "direction": "in",
            "sender": partner.id,
            "receiver": asw.id,
            "via": inbound.via,
            "document_type": str(DocumentType.FORM_D),
            "function": str(env.function),
            "partner_message_id": env.message_id,
            "reference_no": env.reference_no,
            "business_key": key,
            "content_hash": digest,
            "raw": raw,
            "created_at": iso(now),
        }
        delivery = self._delivery_row(message_id, asw, raw, "application/xml", message_id, now)
        event = AuditEvent(
            now,
            "form_d_forwarded",
            message_id,
            asw.id,
            detail="passed unchanged to the ASW gateway; not processed",
        )
        receipt = Receipt(message_id, "forwarded_to_asw", now, env.reference_no)
        return self._store_accepted(
            inbound, key, digest, now, (message, [delivery], [event], []), receipt, {}
        )

    def _render(self, co: FormAK, destination: PartnerConfig) -> tuple[bytes, str]:
        """Translate to the destination's format and sign it there and then."""
        codec = self.codecs[destination.format]
        encoded = codec.encode(co)
        if codec.kind == "json":
            assert isinstance(encoded, dict)
            body = {
                "document": encoded,
                "signature": base64.b64encode(self.signer.sign_json(encoded)).decode(),
            }
            return _json_bytes(body), "application/json"
        assert isinstance(encoded, etree._Element)
        return self.signer.sign(encoded), "application/xml"

    @staticmethod
    def _delivery_row(
        message_id: str,
        destination: PartnerConfig,
        payload: bytes,
        content_type: str,
        order_key: str,
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "destination": destination.id,
            "channel": str(destination.channel),
            "status": str(DeliveryStatus.PENDING),
            "attempts": 0,
            "order_key": order_key,
            "payload": payload,
            "content_type": content_type,
            "next_attempt_at": iso(now),
            "created_at": iso(now),
            "updated_at": iso(now),
        }

    # -- status -------------------------------------------------------------------------

    def status(self, issuing_country: str, reference_no: str, caller: str | None = None) -> dict:
        """The state and timeline of a CO, for either side of the exchange."""
        cert = self.store.certificate(issuing_country, reference_no)
        if cert is None:
            raise NotFound(f"no certificate {issuing_country}/{reference_no}", box="header")
        if caller is not None and caller != ADMIN:
            # A partner reads only what it sent or received; others' COs "do not exist".
            allowed = {issuing_country, cert.get("importing_country")}
            partner = self.settings.partner(caller)
            if partner is None or partner.country not in allowed:
                raise NotFound(f"no certificate {issuing_country}/{reference_no}", box="header")
        events = []
        for m in self.store.messages_for_certificate(issuing_country, reference_no):
            own = caller in (None, ADMIN, m["sender"])
            for a in self.store.audit_for(m["id"]):
                if a["event"] in PRIVATE_EVENTS and not own:
                    continue
                events.append(
                    {
                        "at": a["at"],
                        "name": a["event"],
                        "message_id": m["id"],
                        "detail": a["detail"],
                    }
                )
        events.sort(key=lambda e: e["at"])
        return {"state": cert["state"], "certificate": cert, "events": events}

    # -- deliver ------------------------------------------------------------------------

    def deliver_due(self, limit: int | None = None) -> DeliveryReport:
        """One delivery sweep (see ``delivery.Deliverer``)."""
        return self.deliverer.deliver_due(limit)


def _header_matches(env: Envelope, issuing_country: str, reference_no: str) -> None:
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


def _json_bytes(obj: Mapping[str, Any] | None) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
