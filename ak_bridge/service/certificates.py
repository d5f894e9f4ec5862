"""Intake of certificates: an Issue (function 9) or a Replace (function 5) of a Form AK.

decode (done by the exchange) → who may send it → idempotency → the Agreement's rules →
route → translate to the destination's format and sign → one transaction → receipt.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lxml import etree

from ak_bridge.core import lifecycle, routing, rules
from ak_bridge.core.canonical import canonical_record_and_dict, same_content
from ak_bridge.core.errors import (
    DuplicateConflict,
    NotAuthorized,
    NotFound,
    SchemaViolation,
    ValidationFailed,
)
from ak_bridge.core.model import CertificateState, FormAK, Receipt, certificate_name
from ak_bridge.core.settings import ISSUING_AUTHORITY, PartnerConfig, Settings
from ak_bridge.formats import Codec, encode_for, for_versions
from ak_bridge.security.signing import Signer
from ak_bridge.service.ports import AuditEvent, Store
from ak_bridge.service.receipts import (
    Accepted,
    Inbound,
    Recorder,
    header_matches,
    json_bytes,
    new_id,
    rule_context,
)
from ak_bridge.service.records import CertificateRecord


class CertificateIntake:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        codecs: Mapping[str, Codec],
        signer: Signer,
        recorder: Recorder,
    ) -> None:
        self.settings = settings
        self.store = store
        self.codecs = codecs
        self.signer = signer
        self.recorder = recorder

    def accept(
        self, inbound: Inbound, partner: PartnerConfig, co: FormAK, now: datetime
    ) -> Receipt:
        env = inbound.envelope
        header_matches(env, co.issuing_country, co.reference_no)
        if co.issuing_country != partner.country:
            raise NotAuthorized(
                f"{partner.id} may only submit certificates issued in {partner.country}, "
                f"not {co.issuing_country}",
                box="header",
            )
        routing.require_role(partner, ISSUING_AUTHORITY, "a certificate")
        if env.function is not rules.implied_function(co):
            raise SchemaViolation(
                f"the header says function {env.function}, but the certificate "
                f"{'replaces' if co.is_replacement else 'does not replace'} another CO "
                "(Issue is 9, Replace is 5)",
                box="header",
            )
        # Idempotency first: an identical resend gets its receipt even once the CO moved on.
        key = rules.certificate_key(co, str(env.function))
        canonical_json, digest, data = canonical_record_and_dict(co)
        resend = self._resend(inbound, key, co, digest, now)
        if resend is not None:
            return resend
        body = co.certification.issuing_body or ""  # part of the CO's identity ('': none)
        if self.store.certificate(co.issuing_country, co.reference_no, body) is not None:
            # The same submission may have committed on another instance since our look-up:
            # the CO and its message are written together, so look again before refusing.
            resend = self._resend(inbound, key, co, digest, now)
            if resend is not None:
                return resend
            raise DuplicateConflict(
                f"reference number {certificate_name(co.issuing_country, co.reference_no, body)}"
                " is already used by another certificate; a new or corrected CO needs a new number",
                box="header",
            )

        route = routing.route_certificate(self.settings, co.importing_country)
        findings = rules.check(
            co, rule_context(self.settings, now, env.function, co.importing_country)
        )
        if rules.errors_in(findings):
            raise ValidationFailed(findings)

        message_id = new_id(now)
        order_key = rules.order_key(co.issuing_country, body, co.reference_no)
        accepted = Accepted(
            message=self.recorder.message(
                inbound,
                message_id,
                partner,
                route.destination,
                (co.issuing_country, co.reference_no),
                key,
                digest,
                canonical_json,
                now,
                issuing_body=body,
            ),
            deliveries=[],
            events=self.recorder.events(
                now, message_id, partner, inbound.via, route.destination, findings
            ),
            receipt=Receipt(message_id, "accepted", now, co.reference_no, findings),
            expect={(co.issuing_country, body, co.reference_no): None},
        )
        if co.is_replacement:
            order_key = self._retire_replaced(co, accepted, message_id, partner, now)
        payload, content_type = self._render(co, route.destination, data)
        accepted.deliveries.append(
            self.recorder.delivery(
                message_id, route.destination, payload, content_type, order_key, now
            )
        )
        accepted.certificates.append(
            CertificateRecord(
                issuing_country=co.issuing_country,
                reference_no=co.reference_no,
                issuing_body=body,
                importing_country=co.importing_country,
                state=str(CertificateState.ISSUED),
                issue_date=co.issue_date.isoformat(),
                order_key=order_key,
                last_message_id=message_id,
                updated_at=now,
            )
        )
        return self.recorder.store_accepted(inbound, accepted)

    def _resend(
        self, inbound: Inbound, key: str, co: FormAK, digest: str, now: datetime
    ) -> Receipt | None:
        existing = self.store.message_by_key(key)
        if existing is None:
            return None
        return self.recorder.duplicate(
            inbound, existing, lambda h: same_content(h, co), digest, now
        )

    def _retire_replaced(
        self,
        co: FormAK,
        accepted: Accepted,
        message_id: str,
        partner: PartnerConfig,
        now: datetime,
    ) -> str:
        """The CO a Replace retires: REPLACED, in the same transaction; its order is kept.
        It is the CO of the same issuing body: a body replaces only its own COs."""
        body = co.certification.issuing_body or ""
        replaced = self.store.certificate(co.issuing_country, co.replaces_reference_no or "", body)
        if replaced is None:
            replaces = co.replaces_reference_no or ""
            raise NotFound(
                f"the CO it replaces, {certificate_name(co.issuing_country, replaces, body)}, "
                "is not known here",
                box="header",
            )
        lifecycle.replacement_allowed(CertificateState(replaced.state))
        accepted.expect[(co.issuing_country, body, replaced.reference_no)] = replaced.state
        accepted.certificates.append(
            dataclasses.replace(
                replaced,
                state=str(CertificateState.REPLACED),
                replaced_by=co.reference_no,
                updated_at=now,
            )
        )
        accepted.events.append(
            AuditEvent(
                now,
                "replaces",
                message_id,
                partner.id,
                detail=f"replaces {co.replaces_reference_no}",
            )
        )
        # never overtake the original: the replacement queues behind it
        return replaced.order_key or rules.order_key(co.issuing_country, body, co.reference_no)

    def _render(
        self, co: FormAK, destination: PartnerConfig, data: dict[str, Any]
    ) -> tuple[bytes, str]:
        """Translate to the destination's format, at the highest standard version both speak,
        and sign it there and then; a value that version cannot carry is refused here, before
        anything is stored (``version_not_lossless``). ``data`` is ``co`` dumped already."""
        codec = for_versions(self.codecs[destination.format], destination.standard_versions)
        encoded = encode_for(codec, co, data)
        if codec.kind == "json":
            assert isinstance(encoded, dict)
            body = {
                "document": encoded,
                "signature": base64.b64encode(self.signer.sign_json(encoded)).decode(),
            }
            return json_bytes(body), "application/json"
        assert isinstance(encoded, etree._Element)
        return self.signer.sign(encoded), "application/xml"
