"""The pilot report's figures read from lifecycle messages: Box 4 per item, verification.

Why per item: Box 4 is decided per goods item (ATIGA Rule 16(3)); the CO's state says
PREFERENCE_NOT_GIVEN as soon as one item is refused, so counting states would call a CO with
2 of 3 items given a refusal. Each customs response's canonical JSON holds its decisions; a
purged response (documents removed) is counted as a response whose items are unknown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from ak_bridge.core.model import PreferenceDecision
from ak_bridge.core.reply_clock import effective_reply_due
from ak_bridge.ops.report_figures import Durations
from ak_bridge.service.ports import Store, from_iso

Lane = tuple[str, str]
ALL_GIVEN, SOME_GIVEN, NONE_GIVEN, SUSPENDED, UNKNOWN = (
    "all items given",
    "some items given",
    "no item given",
    "suspended, none given",
    "items unknown (purged)",
)
OUTCOMES = (ALL_GIVEN, SOME_GIVEN, NONE_GIVEN, SUSPENDED, UNKNOWN)


@dataclass
class Box4:
    """Customs responses of a lane by outcome, and their goods items by decision."""

    responses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    items: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((d.value for d in PreferenceDecision), 0)
    )

    @property
    def total_responses(self) -> int:
        return sum(self.responses.values())

    @property
    def total_items(self) -> int:
        return sum(self.items.values())


@dataclass
class Verifications:
    """Verification requests of a lane made in the period and how they were answered."""

    requests: int = 0
    replied: int = 0
    turnaround: Durations = field(default_factory=Durations)  # request -> reply, received

    @property
    def awaiting(self) -> int:
        return self.requests - self.replied


@dataclass(frozen=True)
class OverdueVerification:
    """A retroactive check the issuing side has not answered by its effective due date:
    the request's date, moved by the authority's acknowledgement or an extension."""

    issuing: str
    reference_no: str
    importing: str
    request_no: str
    reply_due: str  # as the request asked
    due: str  # in force: see ak_bridge.core.reply_clock
    acknowledged_on: str | None  # the issuing authority's receipt, which starts the clock
    extended: bool  # an extension set ``due``
    days_late: int
    issuing_body: str = ""  # 1.1: part of the CO's key ('': not named)


def outcome(decisions: list[str]) -> str:
    given = decisions.count(PreferenceDecision.GIVEN.value)
    if decisions and given == len(decisions):
        return ALL_GIVEN
    if given:
        return SOME_GIVEN
    if PreferenceDecision.SUSPENDED.value in decisions:
        return SUSPENDED
    return NONE_GIVEN


def box4_by_lane(store: Store, since: datetime, until: datetime) -> dict[Lane, Box4]:
    out: dict[Lane, Box4] = {}
    for row in store.report_documents(["CUSTOMS_RESPONSE"], since, until):
        box = out.setdefault((row["issuing"], row["importing"]), Box4())
        if row["canonical"] is None:
            box.responses[UNKNOWN] += 1
            continue
        decisions = [str(d["decision"]) for d in json.loads(row["canonical"])["decisions"]]
        box.responses[outcome(decisions)] += 1
        for decision in decisions:
            box.items[decision] = box.items.get(decision, 0) + 1
    return out


def _request_no(row: dict) -> str:
    """From the document, or from the business key once the document is purged."""
    if row["canonical"] is not None:
        return str(json.loads(row["canonical"])["request_no"])
    return str(row["business_key"] or "").rsplit("|", 1)[-1]


def verifications_by_lane(
    store: Store, since: datetime, until: datetime
) -> dict[Lane, Verifications]:
    """Requests made in the period, paired with a reply received before ``until``."""
    rows = store.report_documents(["VERIFICATION_REQUEST", "VERIFICATION_REPLY"], since, until)
    requested: dict[tuple[str, str, str], tuple[Lane, datetime]] = {}
    replied: dict[tuple[str, str, str], datetime] = {}
    for row in rows:
        key = (row["issuing"], row["reference_no"], _request_no(row))
        at = from_iso(row["created_at"])
        if row["document_type"] == "VERIFICATION_REQUEST":
            requested.setdefault(key, ((row["issuing"], row["importing"]), at))
        else:
            replied.setdefault(key, at)
    out: dict[Lane, Verifications] = {}
    turnarounds: dict[Lane, list[float]] = {}
    for key, (lane, asked) in requested.items():
        figures = out.setdefault(lane, Verifications())
        figures.requests += 1
        if key in replied:
            figures.replied += 1
            turnarounds.setdefault(lane, []).append((replied[key] - asked).total_seconds())
    for lane, values in turnarounds.items():
        out[lane].turnaround = Durations.of(values)
    return out


def _request_of(row: dict) -> tuple[str, str, str, str]:
    """The request a row is about: the CO (country, body, reference) and the request number."""
    return (row["issuing"], row["issuing_body"], row["reference_no"], _request_no(row))


def overdue_verifications(store: Store, now: datetime) -> list[OverdueVerification]:
    """Verification requests still unanswered (the CO is VERIFICATION_REQUESTED, and no reply
    or determination names the request) past their effective due date on ``now``'s day
    (``core.reply_clock``)."""
    rows = store.report_reply_clocks()
    answered = {
        _request_of(r)
        for r in rows
        if r["document_type"] in ("VERIFICATION_REPLY", "VERIFICATION_DETERMINATION")
    }
    received: dict[str, date] = {}  # request message id -> the first acknowledgement's day
    extended: dict[tuple[str, str, str, str], list[date]] = {}
    for row in rows:
        if row["clock_started"] is not None:
            acked = str(row["business_key"] or "").rsplit("|", 1)[-1]
            received.setdefault(acked, from_iso(row["clock_started"]).date())
        elif row["document_type"] == "VERIFICATION_EXTENSION" and row["canonical"] is not None:
            to = date.fromisoformat(json.loads(row["canonical"])["extended_to"])
            extended.setdefault(_request_of(row), []).append(to)
    out = []
    for row in rows:
        # a purged request's reply date is no longer known
        if row["document_type"] != "VERIFICATION_REQUEST" or row["canonical"] is None:
            continue
        key = _request_of(row)
        if key in answered:  # an earlier request of a CO asked again
            continue
        asked = date.fromisoformat(json.loads(row["canonical"])["reply_due"])
        due = effective_reply_due(asked, received.get(row["id"]), extended.get(key, ()))
        late = due.days_late(now.date())
        if late > 0:
            out.append(
                OverdueVerification(
                    row["issuing"],
                    row["reference_no"],
                    row["importing"] or "?",
                    key[3],
                    due.requested.isoformat(),
                    due.due.isoformat(),
                    due.acknowledged_on.isoformat() if due.acknowledged_on else None,
                    due.extended,
                    late,
                    row["issuing_body"],
                )
            )
    return out
