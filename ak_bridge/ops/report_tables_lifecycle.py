"""The pilot report's tables about what happened to certificates after delivery: Box 4,
time to the customs decision, verification, and shadow-mode deliveries."""

from __future__ import annotations

from ak_bridge.core.model import certificate_name
from ak_bridge.ops.report_columns import Table
from ak_bridge.ops.report_columns import col as _c
from ak_bridge.ops.report_lifecycle import OUTCOMES
from ak_bridge.ops.reports import PilotReport


def box4_table(r: PilotReport) -> Table:
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


def decisions_table(r: PilotReport) -> Table:
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


def verifications_table(r: PilotReport) -> Table:
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


def overdue_table(r: PilotReport) -> Table:
    rows = [
        {
            "co": certificate_name(v.issuing, v.reference_no, v.issuing_body),
            "importing": v.importing,
            "request": v.request_no,
            "asked": v.reply_due,
            "received": v.acknowledged_on,
            "due": v.due,
            "extended": "yes" if v.extended else "no",
            "late": v.days_late,
        }
        for v in r.overdue_verifications
    ]
    cols = (
        _c("co", "Certificate", "text"),
        _c("importing", "Requested by", "text"),
        _c("request", "Request no.", "text"),
        _c("asked", "Reply due (request)", "text"),
        _c("received", "Acknowledged on", "text"),
        _c("due", "Reply due (effective)", "text"),
        _c("extended", "Extended", "text"),
        _c("late", "Days late"),
    )
    note = (
        "Late from the effective due date: 2 months from the issuing authority's"
        " acknowledgement of the request, or the date of an extension, whichever is later"
        " (never before the request's own date)."
    )
    return Table("overdue_verifications", "Verification replies overdue", cols, rows, note)


def shadow_table(r: PilotReport) -> Table:
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
