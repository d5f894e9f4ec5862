"""What an operator selects, checked, for both the admin CLI and the web console.

One place decides what ``--partner VN`` or a console filter means, so the two tools never
disagree: filter values are checked against what exists (a typo is an error with a "did you
mean", never an empty listing that looks like "all is well"), a partner matches either side
of a message, and a retry by partner leaves dead letters alone unless asked (at a shadow
go-live the operator releases the partner's held deliveries, not months of old failures).

It lives in ``service`` (not ``ops``) because the web adapters may import the service layer
but not the operations layer above them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ak_bridge.core.errors import FailureClass
from ak_bridge.core.model import DeliveryStatus, DocumentType
from ak_bridge.service.ports import Store

STATES = tuple(s.value for s in DeliveryStatus)
DOCUMENT_TYPES = tuple(t.value for t in DocumentType)
FAILURE_CLASSES = tuple(c.value for c in FailureClass)
DIRECTIONS = ("in", "out")
RETRYABLE = ("dead", "waiting_retry", "held")
CANCELLABLE = ("pending", "waiting_retry", "dead", "held")
# The columns of a listing, in order (``search_deliveries`` returns exactly these keys), so
# an empty CSV export still has its whole header.
LISTING_FIELDS = (
    "delivery_id",
    "message_id",
    "direction",
    "sender",
    "destination",
    "channel",
    "document_type",
    "function",
    "issuing_country",
    "reference_no",
    "partner_message_id",
    "status",
    "attempts",
    "next_attempt_at",
    "last_failure_class",
    "last_error",
    "created_at",
    "updated_at",
    "delivered_at",
)
REFUSAL_FIELDS = ("seq", "at", "code", "box", "partner", "partner_message_id", "detail")
_THEIR_ID = re.compile(r" message (\S+?):")


class UnknownValue(ValueError):
    """A filter value that names nothing: the CLI exits 2, the console shows the message."""

    def __init__(self, what: str, value: str, known: Iterable[str]) -> None:
        known = list(known)
        prefix = [k for k in known if k.lower().startswith(value.lower())]
        close = prefix[:1] or difflib.get_close_matches(value, known, n=1, cutoff=0.4)
        hint = f": did you mean {close[0]}?" if close else ""
        super().__init__(f"unknown {what} {value!r}{hint}")
        self.suggestion = close[0] if close else None


@dataclass(frozen=True)
class Selection:
    """Filters over deliveries and their messages; empty means "any"."""

    partners: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    document_types: tuple[str, ...] = ()
    failure_classes: tuple[str, ...] = ()
    reference_no: str | None = None
    partner_message_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> dict[str, Any]:
        """The store's ``search_deliveries`` keywords."""
        return {
            "partners": self.partners,
            "states": self.states,
            "directions": self.directions,
            "document_types": self.document_types,
            "failure_classes": self.failure_classes,
            "reference_no": self.reference_no or None,
            "partner_message_id": self.partner_message_id or None,
            "since": self.since,
            "until": self.until,
        }


def known_partners(store: Store, configured: Iterable[str]) -> list[str]:
    """Configured partners and every party seen in the store (the domestic systems too)."""
    return sorted({*configured, *store.known_partners()})


def check(selection: Selection, partners: Sequence[str]) -> Selection:
    """The selection unchanged, or ``UnknownValue`` for the first value that names nothing."""
    for what, values, known in (
        ("partner", selection.partners, partners),
        ("state", selection.states, STATES),
        ("direction", selection.directions, DIRECTIONS),
        ("document type", selection.document_types, DOCUMENT_TYPES),
        ("failure class", selection.failure_classes, FAILURE_CLASSES),
    ):
        for value in values:
            if value not in known:
                raise UnknownValue(what, value, known)
    if selection.since and selection.until and selection.since >= selection.until:
        raise ValueError("the period is empty: since must be before until")
    return selection


def search(store: Store, selection: Selection, offset: int = 0, limit: int = 1000) -> list[dict]:
    return store.search_deliveries(**selection.query(), offset=offset, limit=limit)


def targets(
    store: Store,
    selection: Selection,
    states: Sequence[str],
    include_dead: bool = True,
) -> list[dict]:
    """Deliveries an action would touch: the selection, in ``states``, deduplicated.

    ``include_dead`` False drops dead letters (a retry by partner without --include-dead).
    """
    wanted = [s for s in states if include_dead or s != "dead"]
    narrowed = [s for s in selection.states if s in wanted] if selection.states else wanted
    if not narrowed:
        return []
    query = selection.query() | {"states": tuple(narrowed)}
    return store.search_deliveries(**query, limit=10_000_000)


def failure_reason(row: dict) -> str:
    """A listing's failure column: class and error, or empty when nothing failed."""
    if not row.get("last_failure_class"):
        return ""
    return f"{row['last_failure_class']}: {row.get('last_error') or ''}".strip().rstrip(":")


def refusal_view(row: Any) -> dict[str, Any]:
    """An audit row of a refusal as listed, with the partner's message id out of its detail."""
    detail = row["detail"] or ""
    found = _THEIR_ID.search(detail)
    return {
        "seq": row["seq"],
        "at": row["at"],
        "code": row["code"],
        "box": row["box"],
        "partner": row["partner"],
        "partner_message_id": found.group(1) if found else None,
        "detail": detail,
    }


def envelope(command: str, items: Sequence[Any]) -> dict[str, Any]:
    """The one JSON shape of every admin ``--json`` output (README, Operators)."""
    return {"command": command, "count": len(items), "items": list(items)}
