"""Form AK business rules beyond the XSD: pure, table-driven, every finding at once.

Each rule has a stable code (what partners see), a default box and a severity. A rule may
name another box for one finding by yielding ``(box, message)`` instead of a message: a
future departure date is box 3, a future declaration date box 11, the same rule. ``check``
runs them all and returns every finding, so a partner fixes a certificate in one round trip
instead of one error at a time; warnings (``Severity.WARNING``) never make a document
invalid, ``errors_in`` picks what does.

Rules that differ per importing country (how many HS digits its tariff uses, a warning at
most; the verification reply time) come from the partner's ``rules`` table in
``config/partners.toml``, passed in as ``RuleContext.importer_rules``. Nothing here reads the
clock: ``today`` is passed in (the bridge uses the date in the earliest time zone, UTC+14, so
that nobody's "today" is "in the future").

Lifecycle messages have their own, smaller table (``MESSAGE_RULES``, run by
``check_message``), with the CO they refer to when the caller has it.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ak_bridge.core.calendars import Calendars, WorkingCalendar
from ak_bridge.core.errors import Finding, Severity
from ak_bridge.core.model import (
    AKFTA_PARTIES,
    Ack,
    AckStatus,
    CancellationNotice,
    CustomsResponse,
    FormAK,
    LifecycleMessage,
    MessageFunction,
    PreferenceDecision,
    Reconsideration,
    RetransmissionRequest,
    VerificationDetermination,
    VerificationReply,
    VerificationRequest,
    certificate_scope,
)

W = Severity.WARNING

RETROACTIVE_WORKING_DAYS = 3  # revised AKFTA OCP: issue within 3 working days of shipment
RETROACTIVE_MAX_MONTHS = 12  # ATIGA / IK-CEPA pattern; AKFTA value to confirm (domain.md)
VALIDITY_MONTHS = 12  # AKFTA, from the (original) issue date
VERIFICATION_REPLY_MONTHS = 2  # AKFTA indirect verification (KCS)
HS_MIN_DIGITS = 6  # 23rd AKFTA SC: importing customs do not reject a 6-digit HS code
RVC_GENERAL_PERCENT = Decimal(40)  # AKFTA Rule 4.1; a PSR may name another threshold
RETROACTIVE_TOLERANCE_DAYS = 1  # 27th AKFTA SC: no refusal over a 1-day counting difference


@dataclass(frozen=True)
class RuleContext:
    today: date
    function: MessageFunction = MessageFunction.ORIGINAL
    importer_rules: Mapping[str, Any] = field(default_factory=dict)
    calendars: Calendars = field(default_factory=Calendars)

    @property
    def hs_min_digits(self) -> int:
        """The digits the importing tariff uses: more than 6 only ever draws a warning."""
        return int(self.importer_rules.get("hs_min_digits", HS_MIN_DIGITS))

    @property
    def verification_reply_months(self) -> int:
        return int(self.importer_rules.get("verification_reply_months", VERIFICATION_REPLY_MONTHS))


# What a rule yields: a message (about the rule's own box) or (box, message).
Yielded = str | tuple[str, str]
Rule = Callable[[FormAK, RuleContext], Iterator[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    code: str
    box: str  # the default box; one finding may name another
    summary: str
    check: Rule
    severity: Severity = Severity.ERROR


RULES: list[RuleSpec] = []


def _findings(code: str, box: str, severity: Severity, out: Iterator[Yielded]) -> Iterator[Finding]:
    for item in out:
        where, message = item if isinstance(item, tuple) else (box, item)
        yield Finding(code, where, message, severity)


def rule(code: str, box: str, summary: str, severity: Severity = Severity.ERROR):
    """Register a certificate rule; the decorated generator yields messages or (box, message)."""

    def register(fn: Callable[[FormAK, RuleContext], Iterator[Yielded]]) -> Rule:
        def run(co: FormAK, ctx: RuleContext) -> Iterator[Finding]:
            return _findings(code, box, severity, fn(co, ctx))

        RULES.append(RuleSpec(code, box, summary, run, severity))
        return run

    return register


def add_working_days(start: date, days: int) -> date:
    """``start`` plus ``days`` working days, Monday to Friday (see ``core.calendars``)."""
    return WorkingCalendar().add_working_days(start, days)


def add_months(start: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's end (29 Feb + 12 = 28 Feb); past the
    calendar's end, ``date.max`` (see ``add_working_days``)."""
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    if year > date.max.year:
        return date.max
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _later(add: Callable[..., date], *args: Any) -> date | None:
    """``add(*args)``, or None past year 9999: ``date_in_future`` already names that box."""
    try:
        return add(*args)
    except (OverflowError, ValueError):
        return None


def default_reply_due(requested_on: date, months: int = VERIFICATION_REPLY_MONTHS) -> date:
    """When a verification reply is due under AKFTA: two months after the request."""
    return add_months(requested_on, months)


def certificate_key(co: FormAK, function: str) -> str:
    """A certificate message's idempotency key: issuing country + reference + function, with
    the issuing body between country and reference when the document names one (standard
    1.1: Korea's KCS and KCCI number independently). 1.0 keys are unchanged, so stored data
    stays valid."""
    scope = certificate_scope(co.issuing_country, co.certification.issuing_body or "")
    return f"{scope}|{co.reference_no}|{function}"


def order_key(issuing_country: str, issuing_body: str, reference_no: str) -> str:
    """The delivery order of one CO's documents (a replacement takes its original's)."""
    return f"{certificate_scope(issuing_country, issuing_body)}|{reference_no}"


def implied_function(co: FormAK) -> MessageFunction:
    """The function a certificate travels with when no envelope says: 5 if it replaces a CO."""
    return MessageFunction.REPLACE if co.is_replacement else MessageFunction.ORIGINAL


# -- certificate rules ----------------------------------------------------------------------


@rule("issuing_country_not_party", "header", "the issuing country is one of the 11 AKFTA Parties")
def _issuing_party(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    if co.issuing_country not in AKFTA_PARTIES:
        yield f"{co.issuing_country} is not an AKFTA Party"


@rule("importing_country_not_party", "11", "the importing country is an AKFTA Party")
def _importing_party(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    if co.importing_country not in AKFTA_PARTIES:
        yield f"{co.importing_country} is not an AKFTA Party"


@rule("same_exporting_importing", "11", "exporting and importing Parties differ")
def _different_parties(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    if co.importing_country == co.issuing_country:
        yield f"exporting and importing Party are both {co.issuing_country}"


@rule("hs_too_short", "7", "the HS code has at least 6 digits (23rd AKFTA SC)")
def _hs_digits(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    for item in co.items:
        if len(item.hs_code) < HS_MIN_DIGITS or not item.hs_code.isdigit():
            yield f"item {item.item_no}: HS code {item.hs_code!r} has fewer than 6 digits"


@rule(
    "hs_fewer_than_national",
    "7",
    "the HS code has the digits the importing tariff uses (never a refusal: 23rd AKFTA SC)",
    severity=W,
)
def _hs_national(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    for item in co.items:
        if item.hs_code.isdigit() and HS_MIN_DIGITS <= len(item.hs_code) < ctx.hs_min_digits:
            yield (
                f"item {item.item_no}: HS code {item.hs_code!r}; the {co.importing_country} "
                f"tariff uses {ctx.hs_min_digits} digits"
            )


@rule("fob_required_for_rvc", "9", "an FOB value is given when the criterion involves RVC")
def _fob_required(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    for item in co.items:
        if item.origin.kind.involves_rvc and item.fob is None:
            yield f"item {item.item_no}: criterion {item.origin.kind} needs an FOB value"


@rule(
    "fob_without_rvc",
    "9",
    "FOB shown under a non-RVC criterion: allowed, the form only spares exporters it",
    severity=W,
)
def _fob_forbidden(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    for item in co.items:
        if not item.origin.kind.involves_rvc and item.fob is not None:
            yield f"item {item.item_no}: FOB value shown although criterion is {item.origin.kind}"


@rule("rvc_threshold_missing", "8", "an RVC criterion names the threshold met, e.g. RVC 40%")
def _rvc_missing(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    for item in co.items:
        if item.origin.kind.involves_rvc and item.origin.rvc_percent is None:
            yield f"item {item.item_no}: criterion {item.origin.kind} without its RVC threshold"


@rule(
    "rvc_below_minimum",
    "8",
    "the RVC threshold is the general rule's 40% unless a product-specific rule names another",
    severity=W,
)
def _rvc_min(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    """Box 8 shows the threshold of the rule relied on (overleaf note 3), not the achieved
    content; no PSR table is loaded yet, so a lower figure is only pointed out."""
    for item in co.items:
        pct = item.origin.rvc_percent
        if item.origin.kind.involves_rvc and pct is not None and pct < RVC_GENERAL_PERCENT:
            yield (
                f"item {item.item_no}: RVC {pct}% is below the general rule's "
                f"{RVC_GENERAL_PERCENT}%; fine only if the product-specific rule says so"
            )


@rule(
    "box9_quantity_missing",
    "9",
    "each item shows its gross weight or another quantity (Box 9: gross weight or other quantity)",
)
def _box9(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    """Standard 1.1 lets gross weight go when another quantity is given (issue 11 point 8);
    the canonical model allows both to be absent, so the rule is what says one is needed."""
    for item in co.items:
        if item.gross_weight is None and item.quantity is None:
            yield f"item {item.item_no}: neither a gross weight nor another quantity"


@rule("exporter_not_in_issuing_country", "1", "the exporter is in the issuing Party")
def _exporter_country(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    if co.exporter.country != co.issuing_country:
        yield f"exporter in {co.exporter.country}, CO issued by {co.issuing_country}"


@rule(
    "consignee_not_in_importing_country",
    "2",
    "the consignee is in the importing Party",
    severity=W,
)
def _consignee_country(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    if co.consignee.country != co.importing_country:
        yield f"consignee in {co.consignee.country}, goods imported into {co.importing_country}"


@rule("item_numbering", "5", "items are numbered 1..n without gaps")
def _numbering(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    numbers = [i.item_no for i in co.items]
    if numbers != list(range(1, len(numbers) + 1)):
        yield f"item numbers are {numbers}, expected 1..{len(numbers)}"


@rule("date_in_future", "12", "no date lies in the future")
def _future(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    dates: list[tuple[str, str, date | None]] = [
        ("3", "departure date", co.transport.departure_date),
        ("11", "declaration date", co.declaration.date),
        ("12", "issue date", co.issue_date),
        ("header", "original issue date", co.original_issue_date),
        (
            "7",
            "original CO's issue date",
            co.original_certificate.issue_date if co.original_certificate else None,
        ),
    ]
    for item in co.items:
        for inv in item.invoices:
            dates.append(("10", f"item {item.item_no} invoice {inv.number} date", inv.date))
    for box, name, d in dates:
        if d is not None and d > ctx.today:
            yield box, f"{name} {d} is after today ({ctx.today})"


def _validity_start(co: FormAK) -> tuple[date, str]:
    """The date validity and "issued retroactively" count from: a replacement keeps its
    original's issue date; a back-to-back CO (23rd AKFTA SC) and a certified true copy count
    from the original CO's issue date."""
    candidates = [(co.issue_date, "issue date")]
    if co.original_issue_date:
        candidates.append((co.original_issue_date, "original issue date"))
    if co.original_certificate and (co.back_to_back or co.certified_true_copy):
        candidates.append((co.original_certificate.issue_date, "original CO's issue date"))
    return min(candidates)


def _first_issued(co: FormAK) -> date:
    return _validity_start(co)[0]


def _late(co: FormAK, ctx: RuleContext) -> tuple[date, date, bool] | None:
    """(issued, last on-time day, calendar certain) when a CO is issued after 3 working days
    plus the agreed 1-day tolerance on the issuing Party's calendar; else None."""
    shipped, issued = co.transport.departure_date, _first_issued(co)
    if not shipped or co.issued_retroactively:
        return None
    cal = ctx.calendars.of(co.issuing_country)
    due = _later(cal.add_working_days, shipped, RETROACTIVE_WORKING_DAYS)
    limit = due and _later(cal.add_working_days, due, RETROACTIVE_TOLERANCE_DAYS)
    if limit is None or issued <= limit:
        return None
    return issued, due, cal.certain(shipped, issued)


def _late_message(co: FormAK, issued: date, due: date) -> str:
    return (
        f"issued {issued}, after {due} ({RETROACTIVE_WORKING_DAYS} working days in "
        f"{co.issuing_country} from shipment on {co.transport.departure_date}, plus "
        f"{RETROACTIVE_TOLERANCE_DAYS} day's tolerance): mark it ISSUED RETROACTIVELY"
    )


@rule("retroactive_marking_missing", "marking", "issued > 3 working days after shipment ⇒ marked")
def _retro_missing(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    late = _late(co, ctx)
    if late and late[2]:
        yield _late_message(co, late[0], late[1])


@rule(
    "retroactive_marking_likely_missing",
    "marking",
    "issued > 3 working days after shipment by a calendar whose holidays are not all known",
    severity=W,
)
def _retro_likely(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    late = _late(co, ctx)
    if late and not late[2]:
        yield _late_message(co, late[0], late[1]) + " (public holidays not known: a warning)"


@rule("retroactive_too_late", "marking", "issued retroactively within one year of shipment")
def _retro_late(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    shipped, issued = co.transport.departure_date, _first_issued(co)
    cap = shipped and _later(add_months, shipped, RETROACTIVE_MAX_MONTHS)
    if shipped and cap and issued > cap:
        yield f"issued {issued}, more than one year after shipment on {shipped}"


@rule(
    "certificate_expired",
    "12",
    "past the 12-month presentation deadline: importing customs decide at the claim date",
    severity=W,
)
def _expired(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    start, origin = _validity_start(co)
    until = _later(add_months, start, VALIDITY_MONTHS)
    if until and ctx.today > until:
        yield f"presentation deadline {until} passed (12 months from the {origin} {start})"


@rule("replacement_without_reference", "header", "a replacement names the CO it replaces")
def _replace_ref(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    if ctx.function is not MessageFunction.REPLACE:
        return
    if not co.replaces_reference_no:
        yield "a replacement must name the reference number of the CO it replaces"
    elif co.replaces_reference_no == co.reference_no:
        yield "a replacement needs a new reference number (numbers are never reused)"
    if not co.original_issue_date:
        yield "a replacement must keep the original CO's issue date (validity runs from it)"
    elif co.original_issue_date > co.issue_date:
        yield (
            f"original issue date {co.original_issue_date} is after this CO's issue date "
            f"{co.issue_date}"
        )


@rule("back_to_back_without_original", "7", "a back-to-back CO names the original CO", severity=W)
def _b2b(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    if co.back_to_back and co.original_certificate is None:
        yield (
            "back-to-back CO (box 13) without the original CO's reference number and issue "
            "date (box 7); accepted pending the OCP amendment"
        )


@rule("third_country_invoicer_missing", "7", "third-country invoicing names the invoicing company")
def _tci(co: FormAK, ctx: RuleContext) -> Iterator[Yielded]:
    if co.third_country_invoicing and co.third_country_invoicer is None:
        yield "third-country invoicing is ticked (box 13) but the invoicing company is not given"


def check(co: FormAK, ctx: RuleContext) -> tuple[Finding, ...]:
    """Every finding of every rule, errors and warnings together."""
    return tuple(f for spec in RULES for f in spec.check(co, ctx))


def errors_in(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    return tuple(f for f in findings if f.severity is Severity.ERROR)


# -- lifecycle message rules ----------------------------------------------------------------

MessageRule = Callable[[Any, RuleContext, FormAK | None], Iterator[Finding]]


@dataclass(frozen=True)
class MessageRuleSpec:
    code: str
    box: str
    summary: str
    applies_to: tuple[type, ...]
    check: MessageRule
    severity: Severity = Severity.ERROR
    needs_certificate: bool = False  # skipped when the caller does not have the CO


MESSAGE_RULES: list[MessageRuleSpec] = []


def message_rule(
    code: str,
    box: str,
    summary: str,
    applies_to: tuple[type, ...],
    *,
    severity: Severity = Severity.ERROR,
    needs_certificate: bool = False,
):
    """Register a lifecycle-message rule; the generator gets (msg, ctx, certificate)."""

    def register(fn: Callable[[Any, RuleContext, Any], Iterator[Yielded]]) -> MessageRule:
        def run(msg: Any, ctx: RuleContext, co: FormAK | None) -> Iterator[Finding]:
            return _findings(code, box, severity, fn(msg, ctx, co))

        MESSAGE_RULES.append(
            MessageRuleSpec(code, box, summary, applies_to, run, severity, needs_certificate)
        )
        return run

    return register


_ROUTED = (
    CancellationNotice,
    CustomsResponse,
    RetransmissionRequest,
    VerificationRequest,
    VerificationReply,
)


@message_rule(
    "same_exporting_importing", "header", "exporting and importing Parties differ", _ROUTED
)
def _msg_parties(msg: Any, ctx: RuleContext, co: FormAK | None) -> Iterator[Yielded]:
    if msg.issuing_country == msg.importing_country:
        yield f"exporting and importing Party are both {msg.issuing_country}"


@message_rule(
    "certificate_mismatch",
    "header",
    "the message names the CO's own issuing and importing countries",
    _ROUTED,
    needs_certificate=True,
)
def _msg_matches(msg: Any, ctx: RuleContext, co: FormAK | None) -> Iterator[Yielded]:
    assert co is not None
    theirs = (msg.reference_no, msg.issuing_country, msg.importing_country)
    ours = (co.reference_no, co.issuing_country, co.importing_country)
    if theirs != ours:
        yield f"the message is about {'/'.join(theirs)}, the CO is {'/'.join(ours)}"


_MESSAGE_DATES: dict[type, tuple[tuple[str, str, str], ...]] = {
    CancellationNotice: (("header", "cancellation date", "cancelled_on"),),
    CustomsResponse: (("4", "decision date", "decision_date"),),
    RetransmissionRequest: (("header", "request date", "requested_on"),),
    VerificationRequest: (("header", "request date", "requested_on"),),
    VerificationReply: (("header", "reply date", "replied_on"),),
}


@message_rule("date_in_future", "header", "no date lies in the future", tuple(_MESSAGE_DATES))
def _msg_future(msg: Any, ctx: RuleContext, co: FormAK | None) -> Iterator[Yielded]:
    for box, name, attr in _MESSAGE_DATES[type(msg)]:
        d = getattr(msg, attr)
        if d > ctx.today:
            yield box, f"{name} {d} is after today ({ctx.today})"


# Messages deciding per goods item: the Box 4 decision, its reconsideration (1.1) and the
# verification's final determination (1.1). An item decided twice or not on the CO is an
# error in each: the issuing side could not tell which decision holds, or for what.
_PER_ITEM = (CustomsResponse, Reconsideration, VerificationDetermination)


def _decided(msg: CustomsResponse | Reconsideration | VerificationDetermination) -> list[int]:
    """The item numbers ``msg`` decides, in its order."""
    if isinstance(msg, VerificationDetermination):
        return [d.item_no for d in msg.items]
    return [d.item_no for d in msg.decisions]


@message_rule("response_item_repeated", "4", "each goods item is decided at most once", _PER_ITEM)
def _repeated(msg: Any, ctx: RuleContext, co: FormAK | None) -> Iterator[Yielded]:
    seen: set[int] = set()
    for n in _decided(msg):
        if n in seen:
            yield f"item {n} is decided more than once"
        seen.add(n)


@message_rule(
    "response_reason_missing",
    "4",
    "preference not given or suspended states the reason (Box 4)",
    (CustomsResponse,),
)
def _reason(msg: CustomsResponse, ctx: RuleContext, co: FormAK | None) -> Iterator[Yielded]:
    for d in msg.decisions:
        if d.decision is not PreferenceDecision.GIVEN and not d.reason:
            yield f"item {d.item_no}: {d.decision} needs a reason"


@message_rule(
    "response_item_unknown",
    "4",
    "every decided item is an item of the CO",
    _PER_ITEM,
    needs_certificate=True,
)
def _unknown(msg: Any, ctx: RuleContext, co: FormAK | None) -> Iterator[Yielded]:
    assert co is not None
    known = {i.item_no for i in co.items}
    for n in _decided(msg):
        if n not in known:
            yield f"item {n} is not on CO {co.reference_no} (items {sorted(known)})"


@message_rule(
    "verification_reply_due",
    "header",
    "the reply is due no earlier than 2 months after the request (AKFTA)",
    (VerificationRequest,),
)
def _reply_due(msg: VerificationRequest, ctx: RuleContext, co: FormAK | None) -> Iterator[Yielded]:
    earliest = _later(default_reply_due, msg.requested_on, ctx.verification_reply_months)
    if earliest and msg.reply_due < earliest:
        yield (
            f"reply due {msg.reply_due}, but the issuing authority has "
            f"{ctx.verification_reply_months} months: not before {earliest}"
        )


@message_rule("ack_status_mismatch", "header", "an Ack's status agrees with its findings", (Ack,))
def _ack(msg: Ack, ctx: RuleContext, co: FormAK | None) -> Iterator[Yielded]:
    errors = [f for f in msg.findings if f.severity is Severity.ERROR]
    warnings = [f for f in msg.findings if f.severity is Severity.WARNING]
    expected = (
        AckStatus.REJECTED
        if errors
        else AckStatus.RECEIVED_WITH_WARNINGS
        if warnings
        else AckStatus.RECEIVED
    )
    if msg.status is not expected:
        yield (
            f"status {msg.status} with {len(errors)} error(s) and {len(warnings)} warning(s); "
            f"expected {expected}"
        )


def check_message(
    msg: LifecycleMessage, ctx: RuleContext, certificate: FormAK | None = None
) -> tuple[Finding, ...]:
    """Every finding about a lifecycle message; rules needing the CO run only when given it."""
    return tuple(
        f
        for spec in MESSAGE_RULES
        if isinstance(msg, spec.applies_to) and (certificate or not spec.needs_certificate)
        for f in spec.check(msg, ctx, certificate)
    )
