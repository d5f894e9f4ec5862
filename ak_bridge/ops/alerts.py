"""Alerts: which conditions hold now, which of them are new or gone, and who is told.

Why: an operator without Prometheus still needs to hear of a dead letter or a broken audit
chain. The worker process checks on a schedule (``[alerts] interval_seconds``): the store
and the certificate files give the conditions that hold now, :func:`transitions` (pure)
compares them with the ones already alerted, and only a new condition fires and only a
condition that went away clears, so each alerts once until it clears.

The set of conditions already alerted lives in the worker's memory: a restarted worker
alerts again on whatever still holds (once), and two workers each alert. A check that
fails (a certificate file unreadable, the store down) keeps that kind's previous state,
so a failing read never clears an alert, and is logged.

Walking the audit chain costs about 14 µs a row (SQLite, 50,000 rows: 0.7 s), so it runs
every ``audit_interval_seconds`` (an hour by default), the other checks every interval.

A lost heartbeat is seen from inside a worker: its alert job runs on its own thread, so it
catches sweeps that stopped (hung) while the process lives. A worker that is gone cannot
alert about itself: that needs the web side's ``ak_bridge_worker_up`` metric (README).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from ak_bridge.adapters.alert_sinks import Dispatcher
from ak_bridge.adapters.web.health import HEARTBEAT_STALE_SECONDS
from ak_bridge.core.settings import Settings
from ak_bridge.logs import ALERTS
from ak_bridge.ops.metrics import certificate_expiry
from ak_bridge.ops.reports import overdue_verifications
from ak_bridge.service.ports import Store, iso

log = logging.getLogger(ALERTS)
Conditions = dict[str, "Condition"]


@dataclass(frozen=True)
class Condition:
    """Something wrong that holds now; ``key`` names it across checks."""

    key: str
    kind: str  # dead_letter, breaker_open, certificate_expiring, verification_overdue, ...
    severity: str  # critical or warning
    summary: str


@dataclass(frozen=True)
class Transitions:
    fired: list[Condition]
    cleared: list[Condition]


def transitions(alerted: Mapping[str, Condition], now: Mapping[str, Condition]) -> Transitions:
    """New conditions fire, vanished ones clear, lasting ones say nothing (pure)."""
    return Transitions(
        fired=[c for k, c in sorted(now.items()) if k not in alerted],
        cleared=[c for k, c in sorted(alerted.items()) if k not in now],
    )


PER_KIND = 10  # alerts of one kind and state sent one by one per round; the rest summed up


def messages(state: str, conditions: list[Condition], at: str) -> list[dict]:
    """What the sinks get for one round (pure): at most PER_KIND alerts of a kind, then one
    that counts the rest, so an outage with 500 dead letters is 11 mails, not 500 (every
    one of them is still logged)."""
    out: list[dict] = []
    by_kind: dict[str, list[Condition]] = {}
    for c in conditions:
        by_kind.setdefault(c.kind, []).append(c)
    for kind, group in by_kind.items():
        out += [{**asdict(c), "state": state, "at": at} for c in group[:PER_KIND]]
        if rest := group[PER_KIND:]:
            summary = f"and {len(rest)} more {kind} alert(s) {state}: see the log"
            key = f"{kind}:+{len(rest)}"
            out.append(
                dict(
                    key=key,
                    kind=kind,
                    severity=rest[0].severity,
                    summary=summary,
                    state=state,
                    at=at,
                )
            )
    return out


def dead_letters(store: Store, settings: Settings, now: datetime) -> Iterable[Condition]:
    for d in store.find_deliveries(status=["dead"]):
        yield Condition(
            f"dead_letter:{d.delivery_id}",
            "dead_letter",
            "critical",
            f"delivery {d.delivery_id} of {d.message_id} to {d.destination} given up",
        )


def open_breakers(store: Store, settings: Settings, now: datetime) -> Iterable[Condition]:
    for pid, partner in settings.partners.items():
        state = store.breaker(pid).state(now) if partner.enabled else "closed"
        if state != "closed":
            yield Condition(
                f"breaker_open:{pid}",
                "breaker_open",
                "warning",
                f"circuit breaker for {pid} {state.replace('_', '-')}: deliveries paused",
            )


def expiring_certificates(store: Store, settings: Settings, now: datetime) -> Iterable[Condition]:
    horizon = settings.alerts.expiry_days
    for pid, digest, days in certificate_expiry(settings, now):
        if days <= horizon:
            yield Condition(
                f"certificate_expiring:{pid}:{digest}",
                "certificate_expiring",
                "critical" if days <= 0 else "warning",
                f"certificate of {pid} ({digest[:16]}) "
                + ("has expired" if days <= 0 else f"expires in {days:.1f} days"),
            )


def overdue_replies(store: Store, settings: Settings, now: datetime) -> Iterable[Condition]:
    for v in overdue_verifications(store, now):
        yield Condition(
            f"verification_overdue:{v.issuing}:{v.reference_no}",
            "verification_overdue",
            "warning",
            f"verification reply for {v.issuing} {v.reference_no} overdue",
        )


def lost_heartbeat(store: Store, settings: Settings, now: datetime) -> Iterable[Condition]:
    beat = store.last_heartbeat()
    age = (now - beat).total_seconds() if beat else None
    if age is None or age > HEARTBEAT_STALE_SECONDS:
        seen = "never" if age is None else f"{age:.0f} s ago"
        yield Condition(
            "worker_heartbeat_lost",
            "worker_heartbeat_lost",
            "critical",
            f"no worker heartbeat for over {HEARTBEAT_STALE_SECONDS} s (last: {seen})",
        )


def broken_audit_chain(store: Store, settings: Settings, now: datetime) -> Iterable[Condition]:
    breaks = store.verify_audit()
    if breaks:
        yield Condition(
            "audit_chain_broken",
            "audit_chain_broken",
            "critical",
            f"audit chain fails verification ({len(breaks)} break(s)): {breaks[0]}",
        )


Check = Callable[[Store, Settings, datetime], Iterable[Condition]]
CHECKS: dict[str, Check] = {
    "dead_letter": dead_letters,
    "breaker_open": open_breakers,
    "certificate_expiring": expiring_certificates,
    "verification_overdue": overdue_replies,
    "worker_heartbeat_lost": lost_heartbeat,
    "audit_chain_broken": broken_audit_chain,
}


class Monitor:
    """The worker's alert state: what was alerted and not yet cleared (in memory)."""

    def __init__(
        self, store: Store, settings: Settings, clock: Callable[[], datetime], out: Dispatcher
    ) -> None:
        self.store, self.settings, self.clock, self.out = store, settings, clock, out
        self.alerted: Conditions = {}
        self.audit_checked: datetime | None = None  # the chain walk is slow: its own interval

    def current(self, now: datetime) -> Conditions:
        """Every condition that holds; a kind whose check failed keeps its alerted ones."""
        found: Conditions = {}
        for kind, check in CHECKS.items():
            if kind == "audit_chain_broken" and not self._audit_due(now):
                found.update((k, c) for k, c in self.alerted.items() if c.kind == kind)
                continue
            try:
                found.update((c.key, c) for c in check(self.store, self.settings, now))
            except Exception:
                log.exception("alert check %s failed; its alerts stay as they were", kind)
                found.update((k, c) for k, c in self.alerted.items() if c.kind == kind)
        return found

    def _audit_due(self, now: datetime) -> bool:
        every = self.settings.alerts.audit_interval_seconds
        if self.audit_checked and (now - self.audit_checked).total_seconds() < every:
            return False
        self.audit_checked = now
        return True

    def check(self) -> Transitions:
        """One round: log and send what fired and what cleared; never raise."""
        now = self.clock()
        current = self.current(now)
        changes = transitions(self.alerted, current)
        for state, conditions in (("firing", changes.fired), ("cleared", changes.cleared)):
            level = logging.WARNING if state == "firing" else logging.INFO
            for c in conditions:
                log.log(
                    level, "alert %s: %s", state, c.summary, extra={**asdict(c), "state": state}
                )
            for message in messages(state, conditions, iso(now)):
                self.out.submit(message)
        self.alerted = current
        return changes
