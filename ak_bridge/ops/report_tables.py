"""The pilot report as named tables and a summary paragraph: what text, CSV and HTML show.

Why one place: the three forms must show the same rows under the same headers. A column says
its kind; CSV writes the raw value (durations in seconds, percentages as numbers), text and
HTML the humane form (``human_duration``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ak_bridge.ops.report_figures import human_duration, human_pct
from ak_bridge.ops.report_lifecycle import OUTCOMES
from ak_bridge.ops.report_summary import totals
from ak_bridge.ops.reports import PilotReport, within_minute_pct

Kind = Literal["text", "int", "pct", "seconds", "number"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = "int"


@dataclass(frozen=True)
class Table:
    name: str  # file name of its CSV
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    note: str = ""


def shown(value: Any, kind: Kind) -> str:
    """A cell as people read it."""
    if value is None or value == "":
        return "-"
    if kind == "seconds":
        return human_duration(value)
    if kind == "pct":
        return human_pct(value)
    if kind == "number":
        return f"{value:.2f}"
    return str(value)


def raw(value: Any, kind: Kind) -> Any:
    """A cell for a spreadsheet: numbers stay numbers; durations in seconds, to the ms."""
    if value is None:
        return ""
    if kind in ("seconds", "pct", "number"):
        return round(float(value), 3)
    return value


def _c(key: str, label: str, kind: Kind = "int") -> Column:
    return Column(key, label, kind)


def tables(r: PilotReport) -> list[Table]:
    return [
        _totals(r),
        _daily(r),
        _lanes(r),
        _latency(r),
        _partners(r),
        _refusals(r),
        _box4(r),
        _decisions(r),
        _verifications(r),
        _overdue(r),
        _shadow(r),
    ]


def _totals(r: PilotReport) -> Table:
    t = totals(r)
    rows = [
        ("messages received", t["messages"]),
        ("certificates (Form AK documents)", t["certificates"]),
        ("certificates concerned (distinct COs)", t["cos"]),
        *((f"messages: {d}", sum(x.messages.get(d, 0) for x in r.lanes)) for d in r.document_types),
        ("deliveries", t["deliveries"]),
        *((f"deliveries {s}", n) for s, n in sorted(t["status"].items())),
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
            "states": ", ".join(f"{s} {n}" for s, n in sorted(x.by_state.items())),
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


def _box4(r: PilotReport) -> Table:
    keys = [f"r{i}" for i in range(len(OUTCOMES))]
    rows = [
        {"lane": x.name, "responses": x.box4.total_responses}
        | {k: x.box4.responses[o] for k, o in zip(keys, OUTCOMES, strict=True)}
        | {"given": x.box4.items.get("GIVEN", 0), "not": x.box4.items.get("NOT_GIVEN", 0)}
        | {"susp": x.box4.items.get("SUSPENDED", 0), "items": x.box4.total_items}
        for x in r.lanes
        if x.box4.total_responses
    ]
    cols = (_c("lane", "Lane", "text"), _c("responses", "Customs responses"))
    cols += tuple(_c(k, f"Responses: {o}") for k, o in zip(keys, OUTCOMES, strict=True))
    cols += (
        _c("items", "Items decided"),
        _c("given", "Items given"),
        _c("not", "Items not given"),
        _c("susp", "Items suspended"),
    )
    note = "Counted per goods item: a response giving 2 of 3 items is 'some items given'."
    return Table("box4", "Box 4: importing customs' decisions", cols, rows, note)


def _decisions(r: PilotReport) -> Table:
    rows = [
        {
            "lane": x.name,
            "n": x.decision.count,
            "p50": x.decision.p50_s,
            "p95": x.decision.p95_s,
            "max": x.decision.max_s,
        }
        for x in r.lanes
        if x.decision.count
    ]
    cols = (
        _c("lane", "Lane", "text"),
        _c("n", "Certificates decided"),
        _c("p50", "Median time to decision", "seconds"),
        _c("p95", "95th pct.", "seconds"),
        _c("max", "Longest", "seconds"),
    )
    note = "From the certificate's receipt at the bridge to the first customs response."
    return Table("decision_times", "Time to the customs decision", cols, rows, note)


def _verifications(r: PilotReport) -> Table:
    rows = [
        {
            "lane": x.name,
            "requests": x.verification.requests,
            "replied": x.verification.replied,
            "awaiting": x.verification.awaiting,
            "p50": x.verification.turnaround.p50_s,
            "max": x.verification.turnaround.max_s,
        }
        for x in r.lanes
        if x.verification.requests
    ]
    cols = (
        _c("lane", "Lane", "text"),
        _c("requests", "Requests"),
        _c("replied", "Replied"),
        _c("awaiting", "Awaiting reply"),
        _c("p50", "Median turnaround", "seconds"),
        _c("max", "Longest turnaround", "seconds"),
    )
    return Table("verifications", "Verification requests and replies", cols, rows)


def _overdue(r: PilotReport) -> Table:
    rows = [
        {
            "co": f"{v.issuing}/{v.reference_no}",
            "importing": v.importing,
            "request": v.request_no,
            "due": v.reply_due,
            "late": v.days_late,
        }
        for v in r.overdue_verifications
    ]
    cols = (
        _c("co", "Certificate", "text"),
        _c("importing", "Requested by", "text"),
        _c("request", "Request no.", "text"),
        _c("due", "Reply due", "text"),
        _c("late", "Days late"),
    )
    return Table("overdue_verifications", "Verification replies overdue", cols, rows)


def _shadow(r: PilotReport) -> Table:
    rows = [
        {
            "partner": p.partner,
            "now": "yes" if p.shadow_now else "no",
            "held": p.shadow_held,
            "released": p.shadow_released,
            "total": p.shadow_held + p.shadow_released,
        }
        for p in r.partners
        if p.shadow_now or p.shadow_held or p.shadow_released
    ]
    cols = (
        _c("partner", "Partner", "text"),
        _c("now", "In shadow mode now", "text"),
        _c("held", "Held, not sent"),
        _c("released", "Held, since released"),
        _c("total", "Shadow deliveries"),
    )
    note = "Built and signed but not sent; not counted in latencies."
    return Table("shadow", "Shadow-mode deliveries", cols, rows, note)
