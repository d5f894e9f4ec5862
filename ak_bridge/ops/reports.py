"""Pilot reports: what the exchange did over a period, per trade lane and per partner.

The questions an FTA committee and the operators ask of a pilot: how many COs and other
messages went each way each day, how fast they were delivered, how many needed retries or
died and why, how many were refused at the door and for what, what importing customs decided
item by item (Box 4) and how long it took them, how verification requests were answered, and
what a partner in shadow mode would have received. Figures, not judgements; every read goes
through the Store port. A lane is a CO's issuing → importing Party: a customs response about
a KR → VN certificate belongs to the KR → VN lane although it travels from VN to KR.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from ak_bridge.ops.report_figures import Durations, days, histogram, iso_period, pct
from ak_bridge.ops.report_lifecycle import (
    Box4,
    OverdueVerification,
    Verifications,
    box4_by_lane,
    overdue_verifications,
    verifications_by_lane,
)
from ak_bridge.service.ports import Store, from_iso

__all__ = ["LaneFigures", "OverdueVerification", "PartnerFigures", "PilotReport", "pilot_report"]
WITHIN_S = 60.0  # "delivered within 1 minute" in the summary and the lane table


def lane_name(issuing: str, importing: str) -> str:
    return f"{issuing} → {importing}"


@dataclass
class PartnerFigures:
    """Deliveries to one partner, and the refusals of the messages it sent."""

    partner: str
    deliveries: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    dead_by_class: dict[str, int] = field(default_factory=dict)
    latency: Durations = field(default_factory=Durations)
    attempts_per_delivery: float | None = None
    refused_at_the_door: dict[str, int] = field(default_factory=dict)
    shadow_held: int = 0  # held in shadow mode and still held
    shadow_released: int = 0  # held in shadow mode, since released by `retry`
    shadow_now: bool = False  # the partner's configuration says shadow = true

    @property
    def latency_p50_s(self) -> float | None:
        return self.latency.p50_s


@dataclass
class LaneFigures:
    """One trade lane: COs issued in ``issuing`` for ``importing``, and every message about them."""

    issuing: str
    importing: str
    certificates: int = 0  # distinct COs with a message in the period
    by_state: dict[str, int] = field(default_factory=dict)  # those COs' state now
    messages: dict[str, int] = field(default_factory=dict)  # per document type
    deliveries: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    shadow: int = 0
    latency: Durations = field(default_factory=Durations)
    latency_histogram: dict[str, int] = field(default_factory=lambda: histogram([]))
    within_minute: int = 0
    decision: Durations = field(default_factory=Durations)  # receipt -> first customs answer
    box4: Box4 = field(default_factory=Box4)
    verification: Verifications = field(default_factory=Verifications)

    @property
    def name(self) -> str:
        return lane_name(self.issuing, self.importing)

    @property
    def decisions(self) -> int:
        return self.decision.count

    @property
    def decision_p50_h(self) -> float | None:
        return None if self.decision.p50_s is None else self.decision.p50_s / 3600

    @property
    def timed(self) -> int:
        """Deliveries whose latency counts: all but shadow-mode ones and cancelled ones."""
        return self.deliveries - self.shadow - self.by_status.get("cancelled", 0)


@dataclass
class PilotReport:
    since: datetime  # inclusive
    until: datetime  # exclusive
    generated_at: datetime
    partners: list[PartnerFigures]
    lanes: list[LaneFigures]
    daily: dict[date, dict[str, Counter[str]]]  # day -> lane name -> document type -> n
    refusals: Counter[tuple[str, str, str]]  # (partner, code, box) -> n
    latency_all: Durations = field(default_factory=Durations)
    decision_all: Durations = field(default_factory=Durations)
    latency_histogram: dict[str, int] = field(default_factory=lambda: histogram([]))
    overdue_verifications: list[OverdueVerification] = field(default_factory=list)

    @property
    def period(self) -> str:
        return iso_period(self.since, self.until)

    @property
    def document_types(self) -> list[str]:
        return sorted({t for lanes in self.daily.values() for c in lanes.values() for t in c})

    def refusals_by_code(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (_, code, _), n in self.refusals.items():
            out[code] += n
        return out


def pilot_report(
    store: Store,
    until: datetime,
    since: datetime | None = None,
    *,
    shadow_partners: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> PilotReport:
    """The report over [since, until); without ``since``, from the first audited event."""
    if since is None:
        first = store.report_first_activity()
        since = min(from_iso(first), until) if first else until
    partners: dict[str, PartnerFigures] = {
        p: PartnerFigures(p, shadow_now=True) for p in shadow_partners
    }
    lanes: dict[tuple[str, str], LaneFigures] = {}

    def lane_of(row: dict) -> LaneFigures:
        key = (row["issuing"], row["importing"])
        return lanes.setdefault(key, LaneFigures(*key))

    daily: dict[date, dict[str, Counter[str]]] = {d: {} for d in days(since, until)}
    cos: dict[tuple[str, str], set[str]] = {}
    for m in store.report_messages(since, until):
        lane = lane_of(m)
        lane.messages[m["document_type"]] = lane.messages.get(m["document_type"], 0) + 1
        day = from_iso(m["created_at"]).date()
        daily.setdefault(day, {}).setdefault(lane.name, Counter())[m["document_type"]] += 1
        if m["reference_no"]:
            cos.setdefault((lane.issuing, lane.importing), set()).add(m["reference_no"])
    for key, refs in cos.items():
        lanes[key].certificates = len(refs)
    for row in store.certificates_by_lane(since, until):
        lane_of(row).by_state[row["state"]] = int(row["n"])

    everything = _deliveries(store.report_deliveries(since, until), partners, lane_of)
    refusals: Counter[tuple[str, str, str]] = Counter()
    for row in store.report_refusals(since, until):
        p = partners.setdefault(row["partner"], PartnerFigures(row["partner"]))
        p.refused_at_the_door[row["code"]] = p.refused_at_the_door.get(row["code"], 0) + 1
        refusals[(row["partner"], row["code"], row["box"] or "-")] += 1
    decided: dict[tuple[str, str], list[float]] = {}
    for row in store.decision_times(since, until):
        seconds = (from_iso(row["decided"]) - from_iso(row["issued"])).total_seconds()
        decided.setdefault((row["issuing"], row["importing"] or "?"), []).append(seconds)
    for key, values in decided.items():
        lanes.setdefault(key, LaneFigures(*key)).decision = Durations.of(values)
    for key, box4 in box4_by_lane(store, since, until).items():
        lanes.setdefault(key, LaneFigures(*key)).box4 = box4
    for key, ver in verifications_by_lane(store, since, until).items():
        lanes.setdefault(key, LaneFigures(*key)).verification = ver

    return PilotReport(
        since=since,
        until=until,
        generated_at=now or until,
        partners=sorted(partners.values(), key=lambda p: p.partner),
        lanes=sorted(lanes.values(), key=lambda x: (x.issuing, x.importing)),
        daily=daily,
        refusals=refusals,
        latency_all=Durations.of(everything),
        decision_all=Durations.of([v for values in decided.values() for v in values]),
        latency_histogram=histogram(everything),
        overdue_verifications=overdue_verifications(store, until),
    )


def _deliveries(
    rows: list[dict],
    partners: dict[str, PartnerFigures],
    lane_of: Callable[[dict], LaneFigures],
) -> list[float]:
    """Deliveries per lane and per partner; shadow-mode ones counted apart and never timed
    (their latency is the hold). Returns every timed latency, in seconds."""
    samples: dict[str, list[float]] = {}
    seen: dict[str, LaneFigures] = {}
    attempts: dict[str, list[int]] = {}
    for row in rows:
        lane = lane_of(row)
        seen[lane.name] = lane
        dest, status = row["destination"], row["status"]
        p = partners.setdefault(dest, PartnerFigures(dest))
        for figures in (p, lane):
            figures.deliveries += 1
            figures.by_status[status] = figures.by_status.get(status, 0) + 1
        if status == "dead":
            key = row["last_failure_class"] or "unknown"
            p.dead_by_class[key] = p.dead_by_class.get(key, 0) + 1
        if row["shadow"]:
            lane.shadow += 1
            if status == "held":
                p.shadow_held += 1
            else:
                p.shadow_released += 1
            continue
        if row["delivered_at"]:
            seconds = (from_iso(row["delivered_at"]) - from_iso(row["created_at"])).total_seconds()
            samples.setdefault(lane.name, []).append(seconds)
            samples.setdefault(f"partner:{dest}", []).append(seconds)
            attempts.setdefault(dest, []).append(int(row["attempts"]))
            lane.within_minute += seconds <= WITHIN_S
    everything: list[float] = []
    for name, lane in seen.items():
        lane.latency = Durations.of(samples.get(name, []))
        lane.latency_histogram = histogram(samples.get(name, []))
        everything += samples.get(name, [])
    for dest, tries in attempts.items():
        partners[dest].latency = Durations.of(samples[f"partner:{dest}"])
        partners[dest].attempts_per_delivery = sum(tries) / len(tries)
    return everything


def within_minute_pct(lane: LaneFigures) -> float | None:
    return pct(lane.within_minute, lane.timed)
