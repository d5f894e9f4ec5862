"""The ports the services own, and the vocabulary they share with the adapters behind them.

A store adapter (SQLite, PostgreSQL) satisfies ``Store``; an outbound adapter satisfies
``delivery.Sender``. Neither port names a driver: no ``sqlite3`` or ``psycopg`` exception
crosses it, only the errors below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from ak_bridge.core.model import DeliveryStatus
from ak_bridge.core.retry import Breaker

if TYPE_CHECKING:
    from ak_bridge.service.records import (
        AttemptRecord,
        AuditRecord,
        Backlog,
        CertificateChange,
        CertificateRecord,
        DeliveryRecord,
        DeliveryView,
        MessageRecord,
    )


def iso(moment: datetime) -> str:
    """One fixed, sortable text form for every stored timestamp (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str | datetime) -> datetime:
    """The stored text form back to a datetime (a datetime passes through unchanged)."""
    if isinstance(text, datetime):
        return text
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class StoreError(Exception):
    """The store could not do what was asked (connection lost, disk full, schema too old)."""


class SchemaMismatch(StoreError):
    """The database's schema is not the one this release runs on; the message says what to do."""


class DuplicateKey(StoreError):
    """A business key is already taken: another submission of the same message won the race."""


class StateChanged(Exception):
    """A CO's state is no longer the one a decision was taken on; nothing was stored.

    Raised by ``Store.accept`` when another message about the same CO committed between
    the caller's read and its write. The caller decides again on the fresh state.
    """


@dataclass(frozen=True)
class AuditEvent:
    """One line of the audit trail, before it is chained."""

    at: datetime
    event: str
    message_id: str | None = None
    partner: str | None = None
    code: str | None = None
    box: str | None = None
    actor: str = "system"
    detail: str | None = None


class Store(Protocol):
    """What the services need of storage; SQLite and PostgreSQL adapters satisfy it.

    Every multi-step write is one transaction; timestamps come from the caller (the store
    never reads the clock); what comes back are records (``records.py``), never rows.
    """

    def close(self) -> None:
        """Release this thread's connection (pool threads call it when they finish)."""

    def ping(self) -> None:
        """Open and commit an empty write transaction; raise StoreError when it cannot."""

    def audit(self, event: AuditEvent) -> None:
        """Append one event to the hash chain."""

    def verify_audit(self) -> list[str]:
        """Walk the chain; return one line per break (empty: intact)."""

    def audit_row(self, seq: int | None = None) -> AuditRecord | None:
        """One audit row by number, or the newest (the head of the chain)."""

    def audit_for(self, message_id: str) -> list[AuditRecord]:
        """A message's audit rows, oldest first."""

    def audit_events(self, event: str | None = None, limit: int = 1000) -> list[AuditRecord]:
        """The newest audit rows, of one event or all."""

    def message_by_key(self, business_key: str) -> MessageRecord | None:
        """The message stored under an idempotency key."""

    def keep_receipt(self, message_id: str, signed: bytes, now: datetime) -> bytes:
        """Keep a message's signed receipt unless one is kept; the kept bytes."""

    def signed_receipt(self, message_id: str) -> bytes | None:
        """The signed receipt first given for a message, if any."""

    def accept(
        self,
        message: MessageRecord,
        deliveries: Sequence[DeliveryRecord],
        events: Sequence[AuditEvent],
        certificates: Sequence[CertificateRecord] = (),
        expect: Mapping[tuple[str, str, str], str | None] | None = None,
    ) -> None:
        """Store a message, its deliveries, CO states and audit at once, or nothing.
        ``expect``: (issuing country, issuing body, reference) -> the state decided on."""

    def predecessors(
        self, issuing_country: str, reference_no: str, issuing_body: str = ""
    ) -> list[str]:
        """The references of the COs this one replaced, directly or through a chain."""

    def certificate(
        self, issuing_country: str, reference_no: str, issuing_body: str = ""
    ) -> CertificateRecord | None:
        """A CO's business state row; ``issuing_body`` is part of its key ('': not named)."""

    def certificates_numbered(self, issuing_country: str, reference_no: str) -> list[str]:
        """The issuing bodies of the COs that carry this number ('': none named), sorted."""

    def claim_due(
        self,
        now: datetime,
        claim_until: datetime,
        worker: str,
        limit: int,
        destination: str | None = None,
        max_in_flight: int | None = None,
    ) -> list[DeliveryRecord]:
        """Claim due deliveries, oldest first, never out of order, never twice."""

    def in_flight_count(self, destination: str, now: datetime) -> int:
        """Deliveries to a partner whose claim is live."""

    def finish_attempt(
        self,
        delivery_id: int,
        worker: str,
        *,
        started_at: datetime,
        duration_ms: float,
        outcome: DeliveryStatus,
        now: datetime,
        next_attempt_at: datetime | None = None,
        http_status: int | None = None,
        failure_class: str | None = None,
        detail: str | None = None,
        event: AuditEvent | None = None,
        change: CertificateChange | None = None,
    ) -> bool:
        """Record one attempt and move the delivery on, in one transaction."""

    def requeue(
        self, delivery_ids: Sequence[int], now: datetime, actor: str, reason: str
    ) -> list[int]:
        """Make failed, waiting or held deliveries due now, with a fresh retry budget."""

    def cancel(
        self, delivery_ids: Sequence[int], now: datetime, actor: str, reason: str
    ) -> list[int]:
        """Stop deliveries that have not been delivered; they are kept, marked cancelled."""

    def purgeable(self, before: datetime) -> list[str]:
        """Messages older than ``before`` whose deliveries are all finished, not yet purged."""

    def purge(self, message_ids: Sequence[str], now: datetime, actor: str) -> int:
        """Drop the documents of old messages, keep their metadata, attempts and audit."""

    def breaker(self, partner: str) -> Breaker:
        """A partner's circuit breaker as stored."""

    def update_breaker(
        self, partner: str, change: Callable[[Breaker], Breaker], now: datetime
    ) -> Breaker:
        """Read, change and write a partner's breaker in one transaction (workers share it)."""

    def heartbeat(self, worker: str, now: datetime) -> None:
        """Record that a worker is alive."""

    def last_heartbeat(self) -> datetime | None:
        """The newest heartbeat of any worker."""

    def message(self, message_id: str) -> MessageRecord | None:
        """One message row."""

    def message_header(self, message_id: str) -> MessageRecord | None:
        """One message row without its documents (``raw`` and ``canonical`` are None)."""

    def messages_for_certificate(
        self, issuing_country: str, reference_no: str, issuing_body: str = ""
    ) -> list[MessageRecord]:
        """The messages about one CO (of ``issuing_body``), oldest first."""

    def deliveries_for(self, message_id: str) -> list[DeliveryRecord]:
        """A message's deliveries."""

    def delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """One delivery row."""

    def attempts_for(self, delivery_id: int) -> list[AttemptRecord]:
        """A delivery's attempts, in order."""

    def find_deliveries(
        self,
        *,
        status: Sequence[str] | None = None,
        destination: str | None = None,
        failure_class: str | None = None,
        reference_no: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[DeliveryView]:
        """Deliveries joined with their message, for the admin CLI."""

    def find_messages(self, limit: int = 1000) -> list[MessageRecord]:
        """Messages, oldest first."""

    def counts_by_status(self) -> dict[str, int]:
        """Deliveries per status."""

    def backlog(self) -> list[Backlog]:
        """Per destination: unfinished deliveries and the age of the oldest."""

    def certificates_by_lane(self, since: datetime | None, until: datetime) -> list[dict]:
        """COs with a message in the period, per issuing/importing country and state."""

    def decision_times(self, since: datetime | None, until: datetime) -> list[dict]:
        """Per CO issued in the period: received (``issued``) and first customs answer."""

    # -- the pilot report's rows (adapters/store/report_reads.py) -------------------------

    def report_first_activity(self) -> str | None:
        """When the audit trail starts (ISO 8601 UTC text), or None when it is empty."""

    def report_messages(self, since: datetime | None, until: datetime) -> list[dict]:
        """Messages received in the period, each with its lane (issuing, importing)."""

    def report_deliveries(self, since: datetime | None, until: datetime) -> list[dict]:
        """Deliveries created in the period, with lane, times and ``shadow`` (ever held)."""

    def report_refusals(self, since: datetime | None, until: datetime) -> list[dict]:
        """Refusals at the door in the period: at, partner, code, box, seq."""

    def report_documents(
        self, document_types: Sequence[str], since: datetime | None, until: datetime
    ) -> list[dict]:
        """Messages of these types in the period with lane, canonical JSON and business key."""

    def report_reply_clocks(self) -> list[dict]:
        """Of COs still VERIFICATION_REQUESTED: their verification requests and extensions,
        and the acknowledgements that started a reply clock (``clock_started``)."""

    def audit_rows(self, after: int = 0, batch: int = 5000) -> Iterator[AuditRecord]:
        """Every audit row in order from ``after``, read in batches."""

    def schema_version(self) -> int:
        """The schema version of the database (0: empty)."""

    def upgrade(self, now: datetime) -> list[int]:
        """Apply the missing schema migrations; the versions applied."""

    def compact(self) -> None:
        """Give freed space back after a purge."""

    # -- the operator tools' reads (adapters/store/console.py) -----------------------

    def search_deliveries(
        self,
        *,
        partners: Sequence[str] = (),
        states: Sequence[str] = (),
        directions: Sequence[str] = (),
        document_types: Sequence[str] = (),
        failure_classes: Sequence[str] = (),
        reference_no: str | None = None,
        partner_message_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 1000,
    ) -> list[dict]:
        """Deliveries with their message; a partner matches sender or destination."""

    def refusals(
        self,
        *,
        partners: Sequence[str] = (),
        codes: Sequence[str] = (),
        partner_message_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditRecord]:
        """Refusals at the door (audit ``rejected``), newest first."""

    def finished_per_hour(self, since: datetime) -> list[dict]:
        """Delivered and dead deliveries per destination and hour (``YYYY-MM-DDTHH``)."""

    def known_partners(self) -> list[str]:
        """Partner ids seen on either side of a stored message."""

    def heartbeats(self) -> list[dict]:
        """Each worker's last heartbeat."""

    # -- console operators (adapters/store/operators.py) -------------------------------

    def add_operator(self, name: str, role: str, password_hash: str, now: datetime) -> None:
        """A new operator account; ``DuplicateKey`` if the name is taken."""

    def operator(self, name: str) -> dict | None:
        """One account with its hash, or None."""

    def operators(self) -> list[dict]:
        """Every account, without hashes."""

    def set_operator_password(self, name: str, password_hash: str) -> None:
        """Replace an account's hash."""

    def disable_operator(self, name: str, now: datetime) -> bool:
        """Disable an account; False if unknown or already disabled."""

    def login_failed(self, name: str, now: datetime) -> None:
        """Count one failed login for the throttle."""

    def login_failures(self, name: str, since: datetime) -> int:
        """Failed logins of that name since then."""

    def login_succeeded(self, name: str) -> None:
        """Forget the name's failed logins."""

    def wait_for_work(self, timeout: float) -> bool:
        """Block until a delivery may be due (something was accepted or requeued, by any
        process), or ``timeout`` seconds pass; True when woken. Accepting wakes the waiters."""
