"""The pilot report as JSON (``ak-bridge report --json``): one documented, stable shape.

Scripts of the authorities read it, so its keys are a contract (README, "The pilot report"):
``command`` as in every admin ``--json`` (listings add ``count`` and ``items``; a report is
sections, not a list), ``format`` bumped only when a key changes meaning or goes away, and one
key per section of the printed report. Lists, never maps keyed by data (days, lanes), so a
reader iterates without knowing the keys in advance; times are ISO 8601 UTC, durations
seconds.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from ak_bridge.ops.report_figures import stamp
from ak_bridge.ops.report_summary import summary
from ak_bridge.ops.reports import LaneFigures, PilotReport
from ak_bridge.service.ports import Store, from_iso

FORMAT = 1  # the shape's version: new keys may appear without a bump


def backlog_now(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Per destination, what waits now: the last part of the text and JSON reports."""
    return [
        {
            "partner": row["destination"],
            "waiting": row["backlog"],
            "oldest": stamp(from_iso(row["oldest"])),
            "age_days": (now - from_iso(row["oldest"])).days,
            "breaker": store.breaker(row["destination"]).state(now),
        }
        for row in store.backlog()
    ]


def report_json(report: PilotReport, backlog: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's sections under their keys, in the order the text report prints them."""

    def lane(x: LaneFigures) -> dict[str, Any]:
        return {"lane": x.name} | asdict(x) | {"decision_p50_h": x.decision_p50_h}

    return {
        "command": "report",
        "format": FORMAT,
        "period": {
            "since": stamp(report.since),
            "until": stamp(report.until),  # exclusive
            "label": report.period,
            "generated_at": stamp(report.generated_at),
        },
        "summary": summary(report),
        "totals": {
            "latency": asdict(report.latency_all),
            "latency_histogram": report.latency_histogram,
            "decision": asdict(report.decision_all),
            "refusals_by_code": dict(sorted(report.refusals_by_code().items())),
        },
        "daily": [  # every day of the period, those without traffic too
            {
                "day": day.isoformat(),
                "lanes": [
                    {"lane": name, "messages": dict(sorted(counts.items()))}
                    for name, counts in sorted(lanes.items())
                ],
            }
            for day, lanes in sorted(report.daily.items())
        ],
        "lanes": [lane(x) for x in report.lanes],
        "partners": [asdict(p) for p in report.partners],
        "refusals": [
            {"partner": p, "code": c, "box": b, "refusals": n}
            for (p, c, b), n in sorted(report.refusals.items())
        ],
        "overdue_verifications": [asdict(v) for v in report.overdue_verifications],
        "backlog": backlog,
    }
