"""Pilot reports: what the exchange did over a period, per partner and per trade lane.

The questions an FTA committee and the operators ask of a pilot: how many COs went each way,
how many were delivered, how fast, how many needed retries or died and why, how many were
refused at the door and for what, and how long importing customs took to decide on
preference (Box 4). Read-only SQL over the store; figures, not judgements.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ak_bridge.service.ports import Store, from_iso, iso


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


@dataclass
class PartnerFigures:
    partner: str
    deliveries: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    dead_by_class: dict[str, int] = field(default_factory=dict)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    attempts_per_delivery: float | None = None
    refused_at_the_door: dict[str, int] = field(default_factory=dict)


@dataclass
class LaneFigures:
    """One trade lane: COs issued in ``issuing`` for ``importing``."""

    issuing: str
    importing: str
    certificates: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    decision_p50_h: float | None = None  # issue accepted -> first customs response
    decisions: int = 0


@dataclass(frozen=True)
class OverdueVerification:
    """A retroactive check the issuing side has not answered by its due date (AKFTA: 2 months)."""

    issuing: str
    reference_no: str
    importing: str
    request_no: str
    reply_due: str
    days_late: int


@dataclass
class PilotReport:
    since: datetime | None
    until: datetime
    partners: list[PartnerFigures]
    lanes: list[LaneFigures]
    overdue_verifications: list[OverdueVerification] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "since": iso(self.since) if self.since else None,
            "until": iso(self.until),
            "partners": [asdict(p) for p in self.partners],
            "lanes": [asdict(lane) for lane in self.lanes],
            "overdue_verifications": [asdict(v) for v in self.overdue_verifications],
        }


def pilot_report(store: Store, until: datetime, since: datetime | None = None) -> PilotReport:
    partners: dict[str, PartnerFigures] = {}

    def partner(pid: str) -> PartnerFigures:
        return partners.setdefault(pid, PartnerFigures(pid))

    latencies: dict[str, list[float]] = {}
    attempts: dict[str, list[int]] = {}
    for row in store.deliveries_created(since, until):
        dest, status = row["destination"], row["status"]
        p = partner(dest)
        p.deliveries += 1
        p.by_status[status] = p.by_status.get(status, 0) + 1
        if status == "dead":
            key = row["last_failure_class"] or "unknown"
            p.dead_by_class[key] = p.dead_by_class.get(key, 0) + 1
        if row["delivered_at"]:
            seconds = (from_iso(row["delivered_at"]) - from_iso(row["created_at"])).total_seconds()
            latencies.setdefault(dest, []).append(seconds)
            attempts.setdefault(dest, []).append(row["attempts"])
    for pid, values in latencies.items():
        partners[pid].latency_p50_s = _pct(values, 0.5)
        partners[pid].latency_p95_s = _pct(values, 0.95)
        partners[pid].attempts_per_delivery = statistics.fmean(attempts[pid])
    for row in store.refusals_by_partner(since, until):
        partner(row["partner"]).refused_at_the_door[row["code"]] = int(row["n"])

    lanes: dict[tuple[str, str], LaneFigures] = {}
    for row in store.certificates_by_lane(since, until):
        key = (row["issuing"], row["importing"])
        lane = lanes.setdefault(key, LaneFigures(*key))
        lane.certificates += int(row["n"])
        lane.by_state[row["state"]] = int(row["n"])
    decision_hours: dict[tuple[str, str], list[float]] = {}
    for row in store.decision_times(since, until):
        hours = (from_iso(row["decided"]) - from_iso(row["issued"])).total_seconds() / 3600
        decision_hours.setdefault((row["issuing"], row["importing"]), []).append(hours)
    for key, values in decision_hours.items():
        lane = lanes.setdefault(key, LaneFigures(*key))
        lane.decision_p50_h = _pct(values, 0.5)
        lane.decisions = len(values)
    return PilotReport(
        since,
        until,
        sorted(partners.values(), key=lambda p: p.partner),
        sorted(lanes.values(), key=lambda lane: (lane.issuing, lane.importing)),
        overdue_verifications(store, until),
    )


def overdue_verifications(store: Store, now: datetime) -> list[OverdueVerification]:
    """Verification requests still open (the CO is VERIFICATION_REQUESTED) past their due date."""
    out = []
    for row in store.open_verification_requests():
        request = json.loads(row["canonical"])
        due = date.fromisoformat(request["reply_due"])
        late = (now.date() - due).days
        if late > 0:
            out.append(
                OverdueVerification(
                    row["issuing"],
                    row["reference_no"],
                    row["importing"] or "?",
                    request["request_no"],
                    due.isoformat(),
                    late,
                )
            )
    return out
