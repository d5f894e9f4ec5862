"""Form AK business rules beyond the XSD: pure, table-driven, every finding at once.

Each rule has a stable code (what partners see), the box it concerns and a severity.
``check`` runs them all and returns every finding, so a partner fixes a certificate in one
round trip instead of one error at a time. Rules that differ per importing country (e.g.
how many HS digits it requires) come from the partner's ``rules`` table in
``config/partners.toml``; nothing here reads the clock: ``today`` is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .errors import Finding, Severity
from .model import AKFTA_PARTIES, FormAK, MessageFunction

W = Severity.WARNING


@dataclass(frozen=True)
class RuleContext:
    today: date
    function: MessageFunction = MessageFunction.ORIGINAL
    importer_rules: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hs_min_digits(self) -> int:
        return int(self.importer_rules.get("hs_min_digits", 6))

    @property
    def rvc_min_percent(self) -> Decimal:
        return Decimal(str(self.importer_rules.get("rvc_min_percent", 40)))


Rule = Callable[[FormAK, RuleContext], Iterator[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    code: str
    box: str
    summary: str
    check: Rule
    severity: Severity = Severity.ERROR


RULES: list[RuleSpec] = []


def rule(code: str, box: str, summary: str, severity: Severity = Severity.ERROR):
    """Register a rule; the decorated generator yields messages, the spec makes Findings."""

    def register(fn: Callable[[FormAK, RuleContext], Iterator[str]]) -> Rule:
        def run(co: FormAK, ctx: RuleContext) -> Iterator[Finding]:
            for message in fn(co, ctx):
                yield Finding(code, box, message, severity)

        RULES.append(RuleSpec(code, box, summary, run, severity))
        return run

    return register


def add_working_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def add_months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    day = min(
        start.day,
        [
            31,
            29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][month - 1],
    )
    return date(year, month, day)


@rule("issuing_country_not_party", "header", "the issuing country is one of the 11 AKFTA Parties")
def _issuing_party(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    if co.issuing_country not in AKFTA_PARTIES:
        yield f"{co.issuing_country} is not an AKFTA Party"


@rule("importing_country_not_party", "11", "the importing country is an AKFTA Party")
def _importing_party(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    if co.importing_country not in AKFTA_PARTIES:
        yield f"{co.importing_country} is not an AKFTA Party"


@rule("same_exporting_importing", "11", "exporting and importing Parties differ")
def _different_parties(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    if co.importing_country == co.issuing_country:
        yield f"exporting and importing Party are both {co.issuing_country}"


@rule("hs_too_short", "7", "the HS code has at least the digits the importing Party requires")
def _hs_digits(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    for item in co.items:
        if len(item.hs_code) < ctx.hs_min_digits or not item.hs_code.isdigit():
            yield f"item {item.item_no}: HS code {item.hs_code!r} needs {ctx.hs_min_digits}+ digits"


@rule("fob_required_for_rvc", "9", "an FOB value is given when the criterion involves RVC")
def _fob_required(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    for item in co.items:
        if item.origin.kind.involves_rvc and item.fob is None:
            yield f"item {item.item_no}: criterion {item.origin.kind} needs an FOB value"


@rule("fob_without_rvc", "9", "no FOB value is given when the criterion does not involve RVC")
def _fob_forbidden(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    for item in co.items:
        if not item.origin.kind.involves_rvc and item.fob is not None:
            yield f"item {item.item_no}: FOB value shown although criterion is {item.origin.kind}"


@rule("rvc_below_minimum", "8", "the RVC percentage meets the general rule (40%)")
def _rvc_min(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    for item in co.items:
        pct = item.origin.rvc_percent
        if item.origin.kind.involves_rvc and (pct is None or pct < ctx.rvc_min_percent):
            yield f"item {item.item_no}: RVC {pct}% is below {ctx.rvc_min_percent}%"


@rule("item_numbering", "5", "items are numbered 1..n without gaps")
def _numbering(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    numbers = [i.item_no for i in co.items]
    if numbers != list(range(1, len(numbers) + 1)):
        yield f"item numbers are {numbers}, expected 1..{len(numbers)}"


@rule("date_in_future", "12", "no date lies in the future")
def _future(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    dates = {"issue date (box 12)": co.issue_date, "declaration date (box 11)": co.declaration.date}
    if co.transport.departure_date:
        dates["departure date (box 3)"] = co.transport.departure_date
    for name, d in dates.items():
        if d > ctx.today:
            yield f"{name} {d} is after today ({ctx.today})"


@rule("retroactive_marking_missing", "marking", "issued > 3 working days after shipment ⇒ marked")
def _retro_missing(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    shipped = co.transport.departure_date
    if shipped and not co.issued_retroactively and co.issue_date > add_working_days(shipped, 3):
        yield (
            f"issued {co.issue_date}, more than 3 working days after shipment on {shipped}: "
            "mark it ISSUED RETROACTIVELY"
        )


@rule("retroactive_too_late", "marking", "issued retroactively within one year of shipment")
def _retro_late(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    shipped = co.transport.departure_date
    if shipped and co.issue_date > add_months(shipped, 12):
        yield f"issued {co.issue_date}, more than one year after shipment on {shipped}"


@rule("certificate_expired", "12", "the CO is within its 12-month validity")
def _expired(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    start = co.original_issue_date or co.issue_date
    if ctx.today > add_months(start, 12):
        yield f"valid until {add_months(start, 12)} (12 months from {start})"


@rule("replacement_without_reference", "header", "a replacement names the CO it replaces")
def _replace_ref(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    if ctx.function is MessageFunction.REPLACE:
        if not co.replaces_reference_no:
            yield "a replacement must name the reference number of the CO it replaces"
        if not co.original_issue_date:
            yield "a replacement must keep the original CO's issue date"
        if co.replaces_reference_no == co.reference_no:
            yield "a replacement needs a new reference number"


@rule("back_to_back_without_original", "13", "a back-to-back CO names the original CO", severity=W)
def _b2b(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    if co.back_to_back and co.original_certificate is None:
        yield "back-to-back CO without the original CO's reference number and date (box 7)"


@rule("third_country_invoicer_missing", "7", "third-country invoicing names the invoicing company")
def _tci(co: FormAK, ctx: RuleContext) -> Iterator[str]:
    if co.third_country_invoicing and co.third_country_invoicer is None:
        yield "third-country invoicing is ticked but the invoicing company is not given"


def check(co: FormAK, ctx: RuleContext) -> tuple[Finding, ...]:
    """Every finding of every rule, errors and warnings together."""
    return tuple(f for spec in RULES for f in spec.check(co, ctx))


def errors_in(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    return tuple(f for f in findings if f.severity is Severity.ERROR)
