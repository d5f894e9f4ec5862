"""Delivery: claim what is due, send it through the channel's Sender, record the outcome.

delivered | waiting_retry (the partner's backoff) | dead (business rejection or policy
spent). A partner's circuit breaker and concurrency limit decide how much is claimed; the
claim itself is one statement, so several workers never send the same delivery at once.
This module owns the ``Sender`` port; outbound adapters satisfy it structurally.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ak_bridge.core import lifecycle
from ak_bridge.core.errors import DeliveryFailed, FailureClass
from ak_bridge.core.model import (
    CertificateState,
    DeliveryStatus,
    DocumentType,
    Envelope,
    MessageFunction,
)
from ak_bridge.core.retry import Breaker
from ak_bridge.core.settings import Channel, PartnerConfig, Settings
from ak_bridge.service.ports import AuditEvent, Store, from_iso, iso
from ak_bridge.service.records import CertificateChange, DeliveryRecord, MessageRecord

log = logging.getLogger(__name__)

BRIDGE_ID = "AK-BRIDGE"


@dataclass(frozen=True)
class Outbound:
    """What a Sender needs for one attempt; ``message_id`` never changes across retries."""

    delivery_id: int
    message_id: str
    envelope: Envelope
    payload: bytes
    content_type: str


@dataclass(frozen=True)
class Sent:
    """What the partner answered to one successful send."""

    http_status: int | None
    receipt: str | None = None  # the partner's receipt: accepted | duplicate (None: none)


class Sender(Protocol):
    def send(self, partner: PartnerConfig, message: Outbound) -> Sent:
        """Deliver once; say what the partner answered; raise DeliveryFailed on failure."""


@dataclass(frozen=True)
class Outcome:
    """One attempt as it ended: what the worker logs and counts, without reading it back."""

    delivery_id: int
    message_id: str
    partner: str
    outcome: str
    attempt: int
    received_at: datetime
    finished_at: datetime
    failure_class: str | None = None
    duration_ms: float | None = None
    http_status: int | None = None


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    lost_claims: int = 0
    details: list[Outcome] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.dead

    def merge(self, other: DeliveryReport) -> None:
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.dead += other.dead
        self.lost_claims += other.lost_claims
        self.details += other.details


class Deliverer:
    """Sends due deliveries for one worker; every collaborator is injected."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        senders: Mapping[Channel, Sender],
        clock: Callable[[], datetime],
        rand: Callable[[], float],
        worker_id: str,
    ) -> None:
        self.settings = settings
        self.store = store
        self.senders = senders
        self.clock = clock
        self.rand = rand
        self.worker_id = worker_id
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()

    def _pool(self, name: str, size: int) -> ThreadPoolExecutor:
        """A pool kept for the worker's life: threads (and the store connection each keeps)
        are made once, not per sweep and per attempt, which cost the drain as much as the
        sends. Its size follows the settings, which do not change while a worker runs.
        Shut down when the deliverer is collected."""
        with self._pools_lock:
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = ThreadPoolExecutor(max(1, size), thread_name_prefix=name)
                weakref.finalize(self, pool.shutdown, wait=False)
            return pool

    def deliver_due(self, limit: int | None = None) -> DeliveryReport:
        """One sweep: each partner's due deliveries, partners side by side.

        Partners are served in parallel (one thread each) so that one partner timing out
        does not hold back the deliveries to every other; to one partner, up to its
        concurrency limit go at once, oldest first.
        """
        batch = limit or self.settings.worker_batch_size
        partners = [p for p in self.settings.partners.values() if p.enabled]
        report = DeliveryReport()
        if len(partners) == 1:
            self._deliver_partner(partners[0], batch, report)
            return report
        pool = self._pool("deliver", len(partners))
        for r in pool.map(lambda p: self._partner_sweep(p, batch), partners):
            report.merge(r)
        return report

    def _partner_sweep(self, partner: PartnerConfig, batch: int) -> DeliveryReport:
        report = DeliveryReport()
        self._deliver_partner(partner, batch, report)
        return report

    def _deliver_partner(self, partner: PartnerConfig, batch: int, report: DeliveryReport) -> None:
        now = self.clock()
        breaker = self.store.breaker(partner.id)
        allowed = breaker.allowance(now, batch)
        if allowed <= 0:
            return  # breaker open
        # Half-open: one probe in flight at a time, whichever worker sends it.
        cap = partner.max_in_flight if breaker.state(now) == "closed" else 1
        claimed = self.store.claim_due(  # counts what is in flight in the same transaction
            now,
            now + timedelta(seconds=self.settings.claim_seconds),
            self.worker_id,
            allowed,
            destination=partner.id,
            max_in_flight=cap,
        )
        if partner.shadow:
            for row in claimed:
                self._hold(partner, row, report)
        elif len(claimed) <= 1:
            for row in claimed:
                self._attempt(partner, row, report)
        else:  # up to the partner's concurrency limit at once: claims never hold two
            # deliveries of one certificate, so sending them side by side keeps the order
            size = sum(p.max_in_flight for p in self.settings.partners.values() if p.enabled)
            pool = self._pool("send", size)  # every partner's limit at once: none waits
            for part in pool.map(lambda row: self._attempt_alone(partner, row), claimed):
                report.merge(part)

    def _attempt_alone(self, partner: PartnerConfig, row: DeliveryRecord) -> DeliveryReport:
        """One attempt on a pool thread, with its own report (and the thread's connection)."""
        report = DeliveryReport()
        self._attempt(partner, row, report)
        return report

    def _hold(self, partner: PartnerConfig, row: DeliveryRecord, report: DeliveryReport) -> None:
        """Shadow mode: everything but the send, so a new partner can run beside paper."""
        now = self.clock()
        ok = self.store.finish_attempt(
            row.id,
            self.worker_id,
            started_at=now,
            duration_ms=0.0,
            outcome=DeliveryStatus.HELD,
            now=now,
            detail="shadow mode: built and signed, not sent",
            event=AuditEvent(
                now,
                "held",
                row.message_id,
                partner.id,
                detail="shadow mode: not sent; `ak-bridge retry` releases it",
            ),
        )
        if ok:
            report.details.append(
                Outcome(
                    row.id,
                    row.message_id,
                    partner.id,
                    str(DeliveryStatus.HELD),
                    row.attempts,
                    row.created_at,
                    now,
                )
            )

    def _attempt(self, partner: PartnerConfig, row: DeliveryRecord, report: DeliveryReport) -> None:
        message = self.store.message_header(row.message_id)
        assert message is not None
        started = self.clock()
        # Another FTA's message passed on raw is recorded as "<agreement>:<document type>".
        agreement, _, document_type = message.document_type.rpartition(":")
        outbound = Outbound(
            delivery_id=row.id,
            message_id=row.message_id,
            envelope=Envelope(
                sender=BRIDGE_ID,
                receiver=partner.id,
                document_type=DocumentType(document_type),
                function=MessageFunction(message.function),
                message_id=row.message_id,
                sent_at=started,
                reference_no=message.reference_no,
                issuing_country=message.issuing_country,
                correlation_id=message.partner_message_id,
                agreement=agreement or None,
            ),
            payload=row.payload,
            content_type=row.content_type,
        )
        t0 = time.perf_counter()
        sender = self.senders[Channel(row.channel)]
        try:
            sent = sender.send(partner, outbound)
        except DeliveryFailed as exc:
            self._failed(
                partner, row, message, exc, started, (time.perf_counter() - t0) * 1000, report
            )
            return
        except Exception as exc:  # a bug in a sender must not kill the sweep
            log.exception("sender crashed on delivery %s", row.id)
            failure = DeliveryFailed(
                f"internal error: {type(exc).__name__}", failure_class=FailureClass.TRANSPORT
            )
            failure.retryable = True
            self._failed(
                partner, row, message, failure, started, (time.perf_counter() - t0) * 1000, report
            )
            return
        now = self.clock()
        took_ms = (time.perf_counter() - t0) * 1000
        ok = self.store.finish_attempt(
            row.id,
            self.worker_id,
            started_at=started,
            duration_ms=took_ms,
            outcome=DeliveryStatus.DELIVERED,
            now=now,
            http_status=sent.http_status,
            detail=f"partner receipt: {sent.receipt}" if sent.receipt else None,
            change=self._after_delivery(message),
            event=AuditEvent(
                now,
                "delivered",
                row.message_id,
                partner.id,
                detail=f"attempt {row['attempts'] + 1}"
                + (
                    " (the partner already had it: duplicate)"
                    if sent.receipt == "duplicate"
                    else ""
                ),
            ),
        )
        if not ok:
            report.lost_claims += 1
            return
        if self.store.breaker(partner.id) != Breaker():  # a write only when it changes
            self.store.update_breaker(partner.id, lambda b: b.after_success(), now)
        report.delivered += 1
        report.details.append(
            Outcome(
                row.id,
                row.message_id,
                partner.id,
                "delivered",
                row.attempts + 1,
                row.created_at,
                now,
                None,
                took_ms,
                sent.http_status,
            )
        )

    def _after_delivery(self, message: MessageRecord) -> CertificateChange | None:
        """What the core decides a delivered document does to its CO (ISSUED -> TRANSMITTED)."""
        if not message.issuing_country or not message.reference_no:
            return None
        cert = self.store.certificate(
            message.issuing_country, message.reference_no, message.issuing_body
        )
        if cert is None:
            return None
        new = lifecycle.after_delivery(
            CertificateState(cert.state), latest_document=cert.last_message_id == message.id
        )
        if new is None:
            return None
        return CertificateChange(
            cert.issuing_country, cert.reference_no, cert.state, str(new), message.id
        )

    def _failed(
        self,
        partner: PartnerConfig,
        row: DeliveryRecord,
        message: MessageRecord,
        exc: DeliveryFailed,
        started: datetime,
        duration_ms: float,
        report: DeliveryReport,
    ) -> None:
        now = self.clock()
        attempts = row.attempts + 1
        in_round = attempts - row.budget_start  # an admin's requeue gives a fresh budget
        first = from_iso(row.first_attempt_at)
        policy = partner.retry
        if exc.retryable:
            self.store.update_breaker(partner.id, lambda b: b.after_failure(now, policy), now)
        else:  # the partner answered: it is up, whatever it thought of the message
            self.store.update_breaker(partner.id, lambda b: b.after_success(), now)
        if exc.retryable and not policy.is_exhausted(in_round, first, now):
            outcome = DeliveryStatus.WAITING_RETRY
            next_at = policy.next_attempt_at(in_round, now, self.rand())
            event = AuditEvent(
                now,
                "retry_scheduled",
                row.message_id,
                partner.id,
                exc.code,
                detail=f"attempt {in_round} of {policy.max_attempts} failed "
                f"({exc.failure_class}): {exc.detail}; next at {iso(next_at)}",
            )
            report.retrying += 1
        else:
            outcome, next_at = DeliveryStatus.DEAD, None
            why = "not retryable" if not exc.retryable else "retry policy spent"
            event = AuditEvent(
                now,
                "dead_letter",
                row.message_id,
                partner.id,
                exc.code,
                detail=f"{why} after attempt {attempts} ({exc.failure_class}): {exc.detail}",
            )
            report.dead += 1
        ok = self.store.finish_attempt(
            row.id,
            self.worker_id,
            started_at=started,
            duration_ms=duration_ms,
            outcome=outcome,
            now=now,
            next_attempt_at=next_at,
            http_status=exc.status,
            failure_class=str(exc.failure_class),
            detail=exc.detail,
            event=event,
        )
        if not ok:
            report.lost_claims += 1
            report.retrying -= outcome is DeliveryStatus.WAITING_RETRY
            report.dead -= outcome is DeliveryStatus.DEAD
            return
        report.details.append(
            Outcome(
                row.id,
                row.message_id,
                partner.id,
                str(outcome),
                attempts,
                row.created_at,
                now,
                str(exc.failure_class),
                duration_ms,
                exc.status,
            )
        )
