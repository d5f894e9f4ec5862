"""The exchange: what the inbound adapters, the worker and the CLI call.

accept:  partner → Form D? → verify signature (only the signed element is used after) →
         decode → the intake for what it is (certificates.py, lifecycle_intake.py,
         form_d.py) → receipt; a refusal is typed and audited once.
status:  a CO's state and timeline (status.py).
deliver: a sweep of due deliveries (delivery.py).

Every collaborator is injected (bootstrap.py builds them); time and randomness too.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from ak_bridge.core import routing
from ak_bridge.core.errors import (
    CertificateStateConflict,
    NotAuthorized,
    Rejected,
    SchemaViolation,
    SignatureInvalid,
)
from ak_bridge.core.model import DocumentType, Receipt
from ak_bridge.core.settings import Channel, PartnerConfig, Settings
from ak_bridge.formats import Codec
from ak_bridge.formats.akstd import VERSION_OF
from ak_bridge.formats.lifecycle import MESSAGE_VERSION_OF, LifecycleCodec
from ak_bridge.security.signing import Signer, Verifier
from ak_bridge.security.xmlio import parse_untrusted
from ak_bridge.service.certificates import CertificateIntake
from ak_bridge.service.delivery import Deliverer, DeliveryReport, Sender
from ak_bridge.service.form_d import FormDForwarder
from ak_bridge.service.lifecycle_intake import LifecycleIntake
from ak_bridge.service.ports import AuditEvent, StateChanged, Store
from ak_bridge.service.receipts import Inbound, Recorder
from ak_bridge.service.signed_receipts import ReceiptSigner
from ak_bridge.service.status import ADMIN, certificate_status

__all__ = ["ADMIN", "Exchange", "Inbound"]

log = logging.getLogger(__name__)

AUDIT_DETAIL_MAX = 1000
STATE_RACE_RETRIES = 3  # decide again when another message about the CO committed first


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
        recorder = Recorder(store)
        self.certificates = CertificateIntake(settings, store, codecs, signer, recorder)
        self.lifecycle_intake = LifecycleIntake(settings, store, self.lifecycle, signer, recorder)
        self.form_d = FormDForwarder(settings, store, recorder)
        self.receipts = ReceiptSigner(store, signer, lambda: self.clock())
        # The deliverer reads the clock through us, so a clock set later is used too.
        self.deliverer = Deliverer(
            settings, store, senders, lambda: self.clock(), lambda: self.rand(), worker_id
        )

    def accept(self, inbound: Inbound) -> Receipt:
        """Accept a message durably or refuse it with a typed, audited error."""
        try:
            for _ in range(STATE_RACE_RETRIES):
                try:
                    receipt = self._accept(inbound)
                    partner = routing.sender_partner(self.settings, inbound.envelope)
                    return self.receipts.attach(receipt, partner)
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
        agreement = routing.agreement_of(env)
        if agreement != routing.AKFTA:
            return self.form_d.forward_agreement(inbound, partner, now, agreement)
        root = parse_untrusted(inbound.xml) if inbound.xml is not None else None
        if routing.is_form_d(env, root):
            return self.form_d.forward(inbound, partner, now)

        document = self._verified_document(inbound, partner, root)  # only signed content now
        if isinstance(document, etree._Element) and self.lifecycle.recognizes(document):
            _version_spoken(document, partner)  # before decoding: 1.1 only for 1.1 speakers
            msg = self.lifecycle.decode(document)
            return self.lifecycle_intake.accept(inbound, partner, msg, now)
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
        _version_spoken(document, partner)
        return self.certificates.accept(inbound, partner, codec.decode(document), now)

    def _verified_document(
        self, inbound: Inbound, partner: PartnerConfig, root: etree._Element | None
    ) -> etree._Element | dict[str, Any]:
        """Verify the sender's signature; return only what it signed."""
        verifier = self.verifiers[partner.id]
        if inbound.json is not None:
            if inbound.json_signature is None:
                raise SignatureInvalid("a JSON document needs its signature", box="header")
            verifier.verify_json(inbound.json, inbound.json_signature)
            return dict(inbound.json)
        if root is None:
            raise SchemaViolation("the message carries no document", box="header")
        return verifier.verify(root)  # the tree parsed once, above

    def status(
        self,
        issuing_country: str,
        reference_no: str,
        caller: str | None = None,
        issuing_body: str = "",
    ) -> dict:
        """The state and timeline of a CO (of ``issuing_body``), for either side."""
        return certificate_status(
            self.settings, self.store, issuing_country, reference_no, caller, issuing_body
        )

    def deliver_due(self, limit: int | None = None) -> DeliveryReport:
        """One delivery sweep (see ``delivery.Deliverer``)."""
        return self.deliverer.deliver_due(limit)


def _version_spoken(document: etree._Element | dict[str, Any], partner: PartnerConfig) -> None:
    """An agreed-standard document (a certificate, or a lifecycle message: the 1.1 messages
    namespace holds every message 1.1 adds) must be in a version its sender is configured to
    speak (``standard_versions``): a 1.1 document from a 1.0-only partner is a
    misconfiguration, refused like a malformed one rather than accepted from a partner that
    could not read the answers it leads to."""
    if not isinstance(document, etree._Element):
        return
    name = etree.QName(document)
    namespace = name.namespace or ""
    version = VERSION_OF.get(namespace) or MESSAGE_VERSION_OF.get(namespace)
    if version is not None and version not in partner.standard_versions:
        what = "document" if namespace in VERSION_OF else f"{name.localname} message"
        raise SchemaViolation(
            f"{partner.id} speaks e-Form AK {', '.join(partner.standard_versions)}, "
            f"this {what} is {version} (standard_versions in partners.toml)",
            box="header",
        )
