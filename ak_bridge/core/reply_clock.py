"""When a verification reply is really due: the request's date, moved by the reply clock.

Why a rule of its own: the request names a reply date (AKFTA: 2 months after the request),
but in e-Form AK 1.1 the issuing authority's own acknowledgement of the request is its
receipt, and the 2 months run from that receipt (audited as ``verification_request_received``
with the date it makes due); a ``VerificationExtension`` it sends names a later date. A
report that counted from the request's date alone would call a reply late that is not.

The effective due date is the latest of: the request's own date (an acknowledgement never
shortens what import customs granted), the acknowledgement-started date and every
extension's date (a later extension never brings the date forward). Pure: no I/O, no clock;
the caller says what "today" is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ak_bridge.core.rules import default_reply_due


@dataclass(frozen=True)
class ReplyDue:
    """A request's reply date as asked, and the date in force after the reply clock moved."""

    requested: date  # the request's own reply date
    due: date  # the effective due date
    acknowledged_on: date | None = None  # the issuing authority's receipt, if it acknowledged
    extended: bool = False  # an extension set ``due``

    def days_late(self, today: date) -> int:
        """Whole days past ``due`` on ``today`` (0 or less: not late)."""
        return (today - self.due).days


def acknowledged_due(received_on: date) -> date:
    """The reply date an acknowledgement of the request starts: 2 months from receipt (the
    date the ``verification_request_received`` audit row gives)."""
    return default_reply_due(received_on)


def effective_reply_due(
    requested: date, acknowledged_on: date | None = None, extended_to: Iterable[date] = ()
) -> ReplyDue:
    """The date a reply is due: the latest of the request's, the acknowledgement-started
    one and the extensions' (an earlier acknowledgement counts: the first receipt starts the
    clock, so pass the earliest acknowledgement)."""
    base = requested
    if acknowledged_on is not None:
        base = max(base, acknowledged_due(acknowledged_on))
    latest_extension = max(extended_to, default=None)
    if latest_extension is not None and latest_extension > base:
        return ReplyDue(requested, latest_extension, acknowledged_on, extended=True)
    return ReplyDue(requested, base, acknowledged_on)
