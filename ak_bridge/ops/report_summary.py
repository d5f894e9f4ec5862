"""The pilot report's totals and its summary paragraph, the first thing an official reads.

Why words: a committee reads "97.3% were delivered within 1 minute" once and remembers it;
the tables below it are for checking.
"""

from __future__ import annotations

from typing import Any

from ak_bridge.ops.report_figures import human_duration, human_pct, words_period
from ak_bridge.ops.report_lifecycle import SOME_GIVEN
from ak_bridge.ops.reports import PilotReport


def totals(r: PilotReport) -> dict[str, Any]:
    status: dict[str, int] = {}
    for lane in r.lanes:
        for s, n in lane.by_status.items():
            status[s] = status.get(s, 0) + n
    timed = sum(x.timed for x in r.lanes)
    return {
        "messages": sum(sum(x.messages.values()) for x in r.lanes),
        "certificates": sum(x.messages.get("FORM_AK", 0) for x in r.lanes),
        "cos": sum(x.certificates for x in r.lanes),
        "deliveries": sum(x.deliveries for x in r.lanes),
        "status": status,
        "timed": timed,
        "within_minute": sum(x.within_minute for x in r.lanes),
        "shadow": sum(x.shadow for x in r.lanes),
        "refusals": sum(r.refusals.values()),
        "responses": sum(x.box4.total_responses for x in r.lanes),
        "items": {
            k: sum(x.box4.items.get(k, 0) for x in r.lanes)
            for k in ("GIVEN", "NOT_GIVEN", "SUSPENDED")
        },
        "some_given": sum(x.box4.responses[SOME_GIVEN] for x in r.lanes),
        "requests": sum(x.verification.requests for x in r.lanes),
        "replied": sum(x.verification.replied for x in r.lanes),
    }


def summary(r: PilotReport) -> str:
    """The paragraph at the top: what happened, in words an official reads once."""
    t = totals(r)
    lanes = [x for x in r.lanes if x.messages]
    parts = [
        f"{words_period(r.since, r.until)}, the bridge received {t['messages']:,} message(s)"
        f" about {t['cos']:,} certificate(s) of origin on {len(lanes)} lane(s)"
        + (" (" + ", ".join(f"{x.name}: {x.certificates:,}" for x in lanes) + ")" if lanes else "")
        + f", {t['certificates']:,} of them certificates (Form AK)."
    ]
    if t["deliveries"]:
        within = human_pct(100.0 * t["within_minute"] / t["timed"] if t["timed"] else None)
        parts.append(
            f"Of {t['timed']:,} deliveries to receiving systems, {within} were delivered within"
            f" 1 minute (median {human_duration(r.latency_all.p50_s)});"
            f" {t['status'].get('dead', 0):,} became dead letters and"
            f" {t['status'].get('waiting_retry', 0) + t['status'].get('pending', 0):,}"
            " are still waiting."
        )
    if t["shadow"]:
        parts.append(f"{t['shadow']:,} deliveries were held in shadow mode and are counted apart.")
    by_code = r.refusals_by_code().most_common(1)
    if t["refusals"]:
        code, n = by_code[0]
        parts.append(
            f"{t['refusals']:,} message(s) were refused at the door, most often {code} ({n:,})."
        )
    if t["responses"]:
        items = t["items"]
        median = r.decision_all.p50_s
        after = f" (median {human_duration(median)} after receipt)" if median is not None else ""
        parts.append(
            f"Importing customs sent {t['responses']:,} decision(s){after}:"
            f" of {sum(items.values()):,} goods items, {items['GIVEN']:,} were given preference,"
            f" {items['NOT_GIVEN']:,} were not and {items['SUSPENDED']:,} are suspended;"
            f" {t['some_given']:,} response(s) gave preference to some items only."
        )
    if t["requests"]:
        extended = sum(v.extended for v in r.overdue_verifications)
        parts.append(
            f"{t['requests']:,} verification request(s) were made, {t['replied']:,} answered;"
            f" {len(r.overdue_verifications):,} reply(ies) are overdue"
            + (f", {extended:,} of them past an extended date." if extended else ".")
        )
    return " ".join(parts)
