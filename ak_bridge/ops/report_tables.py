"""The pilot report as named tables: what text, CSV and HTML show, under the same headers.

Why one place: the three forms must show the same rows. This module holds the traffic tables
(totals, daily volume, lanes, latency, partners, refusals); ``report_tables_lifecycle`` the
rest.
"""

from __future__ import annotations

from ak_bridge.ops.report_columns import Column, Kind, Table, raw, shown
from ak_bridge.ops.report_columns import col as _c
from ak_bridge.ops.report_summary import totals
from ak_bridge.ops.report_tables_lifecycle import (
    box4_table,
    decisions_table,
    overdue_table,
    shadow_table,
    verifications_table,
)
from ak_bridge.ops.reports import PilotReport, within_minute_pct

__all__ = ["Column", "Kind", "Table", "raw", "shown", "tables"]


def tables(r: PilotReport) -> list[Table]:
    return [
        _totals(r),
        _daily(r),
        _lanes(r),
        _latency(r),
        _partners(r),
        _refusals(r),
        box4_table(r),
        decisions_table(r),
        verifications_table(r),
        overdue_table(r),
        shadow_table(r),
    ]


def _totals(r: PilotReport) -> Table:
    t = totals(r)
    rows = [
        ("messages received", t["messages"]),
        ("certificates (Form AK documents)", t["certificates"]),
        ("certificates concerned (distinct COs)", t["cos"]),
        *((f"messages: {d}", sum(x.messages.get(d, 0) for x in r.lanes)) for d in r.document_types),
        ("deliveries", t["deliveries"]),
        *((f"deliveries now {s}", n) for s, n in sorted(t["status"].items())),
        ("deliveries held in shadow mode", t["shadow"]),
        ("refused at the door", t["refusals"]),
        ("customs responses (Box 4)", t["responses"]),
        ("items given preference", t["items"]["GIVEN"]),
        ("items not given preference", t["items"]["NOT_GIVEN"]),
        ("items suspended", t["items"]["SUSPENDED"]),
        ("verification requests", t["requests"]),
        ("verification replies", t["replied"]),
        ("verification replies overdue", len(r.overdue_verifications)),
    ]
    return Table(
        "totals",
        "Totals",
        (_c("figure", "Figure", "text"), _c("value", "Value")),
        [{"figure": f, "value": v} for f, v in rows],
    )


def _daily(r: PilotReport) -> Table:
    types = r.document_types
    lanes = [x.name for x in r.lanes if x.messages]
    rows = []
    for day, by_lane in sorted(r.daily.items()):
        for name in lanes:
            counts = by_lane.get(name, {})
            row = {"day": day.isoformat(), "lane": name} | {t: counts.get(t, 0) for t in types}
            rows.append(row | {"total": sum(counts.values())})
    cols = (_c("day", "Day", "text"), _c("lane", "Lane", "text"))
    cols += tuple(_c(t, t) for t in types) + (_c("total", "All messages"),)
    return Table(
        "daily_volume", "Messages received per day, per lane and document type", cols, rows
    )


def _lanes(r: PilotReport) -> Table:
    rows = [
        {
            "lane": x.name,
            "cos": x.certificates,
            "messages": sum(x.messages.values()),
            "deliveries": x.deliveries,
            "delivered": x.by_status.get("delivered", 0),
            "within": within_minute_pct(x),
            "p50": x.latency.p50_s,
            "p95": x.latency.p95_s,
            "p99": x.latency.p99_s,
            "waiting": x.by_status.get("waiting_retry", 0) + x.by_status.get("pending", 0),
            "dead": x.by_status.get("dead", 0),
            "shadow": x.shadow,
            "states": ", ".join(
                f"{s.lower().replace('_', ' ')} {n}" for s, n in sorted(x.by_state.items())
            ),
        }
        for x in r.lanes
    ]
    cols = (
        _c("lane", "Lane (issuing → importing)", "text"),
        _c("cos", "Certificates"),
        _c("messages", "Messages"),
        _c("deliveries", "Deliveries"),
        _c("delivered", "Delivered"),
        _c("within", "Delivered within 1 min", "pct"),
        _c("p50", "Latency median", "seconds"),
        _c("p95", "Latency 95th pct.", "seconds"),
        _c("p99", "Latency 99th pct.", "seconds"),
        _c("waiting", "Still waiting"),
        _c("dead", "Dead letters"),
        _c("shadow", "Held (shadow mode)"),
        _c("states", "Certificates by state now", "text"),
    )
    return Table("lanes", "Per lane", cols, rows)


def _latency(r: PilotReport) -> Table:
    """A row per lane, a column per bucket: the same columns whatever the period holds."""
    buckets = list(r.latency_histogram)
    rows = [{"lane": "all lanes", "n": r.latency_all.count} | r.latency_histogram]
    rows += [
        {"lane": x.name, "n": x.latency.count} | x.latency_histogram
        for x in r.lanes
        if x.latency.count
    ]
    cols = (_c("lane", "Lane", "text"), _c("n", "Deliveries timed"))
    cols += tuple(_c(b, b) for b in buckets)
    return Table("latency_histogram", "Delivery latency (receipt to delivered)", cols, rows)


def _partners(r: PilotReport) -> Table:
    rows = [
        {
            "partner": p.partner,
            "deliveries": p.deliveries,
            "delivered": p.by_status.get("delivered", 0),
            "waiting": p.by_status.get("waiting_retry", 0) + p.by_status.get("pending", 0),
            "dead": p.by_status.get("dead", 0),
            "shadow": p.shadow_held + p.shadow_released,
            "cancelled": p.by_status.get("cancelled", 0),
            "p50": p.latency.p50_s,
            "p95": p.latency.p95_s,
            "p99": p.latency.p99_s,
            "tries": p.attempts_per_delivery,
            "refused": sum(p.refused_at_the_door.values()),
            "dead_by": ", ".join(f"{c} {n}" for c, n in sorted(p.dead_by_class.items())),
        }
        for p in r.partners
    ]
    cols = (
        _c("partner", "Partner", "text"),
        _c("deliveries", "Deliveries"),
        _c("delivered", "Delivered"),
        _c("waiting", "Still waiting"),
        _c("dead", "Dead letters"),
        _c("shadow", "Held (shadow mode)"),
        _c("cancelled", "Cancelled"),
        _c("p50", "Latency median", "seconds"),
        _c("p95", "Latency 95th pct.", "seconds"),
        _c("p99", "Latency 99th pct.", "seconds"),
        _c("tries", "Attempts per delivery", "number"),
        _c("refused", "Messages it sent, refused"),
        _c("dead_by", "Dead letters by failure class", "text"),
    )
    note = "Deliveries to each receiving system; refusals of the messages each partner sent."
    return Table("partners", "Per receiving partner", cols, rows, note)


def _refusals(r: PilotReport) -> Table:
    rows = [
        {"partner": p, "code": c, "box": b, "refusals": n}
        for (p, c, b), n in sorted(r.refusals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    cols = (
        _c("partner", "Sent by", "text"),
        _c("code", "Error code", "text"),
        _c("box", "Form AK box", "text"),
        _c("refusals", "Refusals"),
    )
    return Table("refusals", "Messages refused at the door, by code and box", cols, rows)
