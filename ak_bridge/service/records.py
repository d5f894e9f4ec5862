"""What the store keeps, as the services see it: typed records, never a driver's row.

Timestamps are ``datetime`` (UTC) everywhere except in the audit trail, whose ``at`` is the
exact text the hash chain covers. Records also read by key (``r["status"]``), so the
operator tools can print any of them as a table without knowing its type.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Record:
    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def plain(self) -> dict[str, Any]:
        """As plain values: timestamps in the stored text form (for CSV, JSON, evidence)."""
        from ak_bridge.service.ports import iso

        return {
            k: iso(v) if isinstance(v, datetime) else v for k, v in ((k, self[k]) for k in self)
        }


@dataclass(frozen=True)
class MessageRecord(Record):
    """A message as received (``in``), or a conflicting resend kept for the admin."""

    id: str
    direction: str
    sender: str
    via: str
    document_type: str
    function: str
    created_at: datetime
    receiver: str | None = None
    partner_message_id: str | None = None
    issuing_country: str | None = None
    reference_no: str | None = None
    business_key: str | None = None
    content_hash: str | None = None
    raw: bytes | None = None
    canonical: str | None = None
    purged_at: datetime | None = None
    issuing_body: str = ""  # of the CO it is about ('' : not named, as in 1.0)


@dataclass(frozen=True)
class DeliveryRecord(Record):
    """One message on its way to one partner; ``id`` is given by the store."""

    message_id: str
    destination: str
    channel: str
    status: str
    order_key: str
    payload: bytes
    content_type: str
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    id: int = 0
    attempts: int = 0
    budget_start: int = 0
    first_attempt_at: datetime | None = None
    claimed_until: datetime | None = None
    claimed_by: str | None = None
    last_error: str | None = None
    last_failure_class: str | None = None
    last_http_status: int | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class AttemptRecord(Record):
    id: int
    delivery_id: int
    number: int
    started_at: datetime
    duration_ms: float
    outcome: str
    http_status: int | None = None
    failure_class: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class CertificateRecord(Record):
    """A CO's business state; written whole (a decision replaces the record)."""

    issuing_country: str
    reference_no: str
    state: str
    updated_at: datetime
    importing_country: str | None = None
    issue_date: str | None = None  # ISO date
    replaced_by: str | None = None
    order_key: str | None = None
    last_message_id: str | None = None
    issuing_body: str = ""  # part of the key: KCS and KCCI number independently ('': none)


@dataclass(frozen=True)
class AuditRecord(Record):
    """One chained line of the audit trail; ``at`` is the text the hash covers."""

    seq: int
    at: str
    event: str
    actor: str
    prev_hash: str
    hash: str
    message_id: str | None = None
    partner: str | None = None
    code: str | None = None
    box: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class DeliveryView(Record):
    """A delivery with what the admin needs of its message, for listings (CSV column order)."""

    delivery_id: int
    message_id: str
    sender: str
    destination: str
    channel: str
    document_type: str
    function: str
    issuing_country: str | None
    reference_no: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_failure_class: str | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class Backlog(Record):
    destination: str
    backlog: int
    oldest: datetime


@dataclass(frozen=True)
class CertificateChange:
    """A decision about a CO taken by the core, for the store to write if still true.

    The store changes the CO from ``from_state`` to ``to_state`` only if it is still in
    ``from_state`` and ``last_message_id`` (when given) is still its latest document.
    ``issuing_body`` None: the body of the CO whose latest document is ``last_message_id``
    (a message id belongs to one CO), else '' (not named).
    """

    issuing_country: str
    reference_no: str
    from_state: str
    to_state: str
    last_message_id: str | None = None
    issuing_body: str | None = None
