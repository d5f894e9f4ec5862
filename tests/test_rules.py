"""Business rules: each one fires on exactly its case, with the right box and severity.

One case per rule code, starting from a certificate (or message) that passes every rule and
breaking it in one way: the case asserts that exactly that code is reported, so removing a
rule (or making another one over-eager) fails a test. ``test_every_rule_has_a_case`` makes a
new rule come with its case. Then: every finding at once, warnings apart from errors, and
the date helpers the rules count with. No clock anywhere: ``today`` is a constant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ak_bridge.core.errors import Finding, Severity
from ak_bridge.core.model import (
    Ack,
    AckStatus,
    CancellationNotice,
    CriterionKind,
    CustomsResponse,
    FormAK,
    ItemDecision,
    MessageFunction,
    Money,
    OriginalCertificate,
    OriginCriterion,
    Party,
    PreferenceDecision,
    RetransmissionRequest,
    VerificationReply,
    VerificationRequest,
    VerificationResult,
)
from ak_bridge.core.rules import (
    MESSAGE_RULES,
    RULES,
    RuleContext,
    add_months,
    add_working_days,
    check,
    check_message,
    default_reply_due,
    errors_in,
    implied_function,
)
from ak_bridge.sim.certificates import sample_form_ak

TODAY = date(2026, 11, 20)  # a Friday
ISSUED = date(2026, 11, 9)  # a Monday
CTX = RuleContext(today=TODAY)


def good() -> FormAK:
    """KR→VN, 3 items: CTH+RVC 40 % with FOB, RVC 45.5 % with FOB, CTH without."""
    return sample_form_ak("KR-2026-BS-004711", "KR", "VN", ISSUED, items=3)


def item(co: FormAK, n: int, **changes: Any) -> FormAK:
    items = list(co.items)
    items[n - 1] = replace(items[n - 1], **changes)
    return replace(co, items=tuple(items))


def shipped(co: FormAK, departure: date) -> FormAK:
    return replace(co, transport=replace(co.transport, departure_date=departure))


def codes(findings: tuple[Finding, ...]) -> set[str]:
    return {f.code for f in findings}


def test_the_base_cases_pass_every_rule() -> None:
    assert check(good(), CTX) == ()
    for msg in MESSAGES.values():
        assert check_message(msg, CTX, good()) == (), msg


# -- certificates: (code, broken certificate, context, boxes of the findings) -----------------

FOB = Money(Decimal("1000"), "USD")
REPLACE = RuleContext(TODAY, MessageFunction.REPLACE)
CertCase = tuple[str, Callable[[], FormAK], RuleContext, list[str]]
CERT_CASES: list[CertCase] = [
    (
        "issuing_country_not_party",
        lambda: replace(good(), issuing_country="CN"),
        CTX,
        ["header"],
    ),
    (
        "importing_country_not_party",
        lambda: replace(good(), declaration=replace(good().declaration, importing_country="JP")),
        CTX,
        ["11"],
    ),
    (
        "same_exporting_importing",
        lambda: replace(good(), declaration=replace(good().declaration, importing_country="KR")),
        CTX,
        ["11"],
    ),
    (
        "hs_too_short",
        lambda: good(),
        RuleContext(TODAY, importer_rules={"hs_min_digits": 8}),
        ["7", "7", "7"],
    ),
    ("fob_required_for_rvc", lambda: item(good(), 2, fob=None), CTX, ["9"]),
    ("fob_without_rvc", lambda: item(good(), 3, fob=FOB), CTX, ["9"]),
    (
        "rvc_below_minimum",
        lambda: item(good(), 2, origin=OriginCriterion(CriterionKind.RVC, Decimal("39.99"))),
        CTX,
        ["8"],
    ),
    ("item_numbering", lambda: item(good(), 2, item_no=7), CTX, ["5"]),
    ("date_in_future", lambda: shipped(good(), TODAY + timedelta(days=1)), CTX, ["3"]),
    (
        "retroactive_marking_missing",
        lambda: shipped(good(), date(2026, 11, 3)),  # Tue + 3 working days = Fri 6th < 9th
        CTX,
        ["marking"],
    ),
    (
        "retroactive_too_late",
        lambda: replace(shipped(good(), date(2025, 11, 8)), issued_retroactively=True),
        CTX,
        ["marking"],
    ),
    (
        "certificate_expired",
        lambda: good(),
        RuleContext(date(2027, 11, 10)),
        ["12"],
    ),
    (
        "replacement_without_reference",
        lambda: replace(good(), original_issue_date=date(2026, 11, 2)),
        REPLACE,
        ["header"],
    ),
    ("back_to_back_without_original", lambda: replace(good(), back_to_back=True), CTX, ["7"]),
    (
        "third_country_invoicer_missing",
        lambda: replace(good(), third_country_invoicing=True),
        CTX,
        ["7"],
    ),
]


@pytest.mark.parametrize(("code", "make", "ctx", "boxes"), CERT_CASES, ids=lambda v: v)
def test_certificate_rule(
    code: str, make: Callable[[], FormAK], ctx: RuleContext, boxes: list[str]
) -> None:
    findings = check(make(), ctx)
    assert codes(findings) == {code}, findings
    assert sorted(f.box for f in findings) == sorted(boxes)
    spec = next(s for s in RULES if s.code == code)
    assert {f.severity for f in findings} == {spec.severity}


# -- lifecycle messages ----------------------------------------------------------------------

REF = ("KR-2026-BS-004711", "KR", "VN")
MESSAGES: dict[str, Any] = {
    "cancel": CancellationNotice(*REF, "replaced by KR-2026-BS-004712", TODAY),
    "response": CustomsResponse(
        *REF,
        "105938274610",
        TODAY,
        (
            ItemDecision(1, PreferenceDecision.GIVEN),
            ItemDecision(2, PreferenceDecision.NOT_GIVEN, "RVC not supported"),
            ItemDecision(3, PreferenceDecision.SUSPENDED, "verification requested"),
        ),
    ),
    "retransmit": RetransmissionRequest(*REF, "lost", TODAY),
    "verify": VerificationRequest(
        *REF, "KCS-VR-1", "doubts", date(2026, 9, 30), date(2026, 11, 30)
    ),
    "reply": VerificationReply(*REF, "KCS-VR-1", VerificationResult.ORIGINATING, TODAY),
    "ack": Ack(
        *REF, "AKB-1", AckStatus.RECEIVED_WITH_WARNINGS, (Finding("w", "7", "w", Severity.WARNING),)
    ),
}


def decisions(*items: ItemDecision) -> CustomsResponse:
    return replace(MESSAGES["response"], decisions=items)


MsgCase = tuple[str, Callable[[], Any], bool, list[str]]  # with the CO?
MSG_CASES: list[MsgCase] = [
    (
        "same_exporting_importing",
        lambda: replace(MESSAGES["retransmit"], importing_country="KR"),
        False,
        ["header"],
    ),
    (
        "certificate_mismatch",
        lambda: replace(MESSAGES["cancel"], importing_country="ID"),
        True,
        ["header"],
    ),
    (
        "date_in_future",
        lambda: replace(MESSAGES["response"], decision_date=TODAY + timedelta(days=1)),
        False,
        ["4"],
    ),
    (
        "response_item_repeated",
        lambda: decisions(
            *MESSAGES["response"].decisions, ItemDecision(1, PreferenceDecision.GIVEN)
        ),
        False,
        ["4"],
    ),
    (
        "response_reason_missing",
        lambda: decisions(ItemDecision(1, PreferenceDecision.NOT_GIVEN)),
        False,
        ["4"],
    ),
    (
        "response_item_unknown",
        lambda: decisions(ItemDecision(4, PreferenceDecision.GIVEN)),
        True,
        ["4"],
    ),
    (
        "verification_reply_due",
        lambda: replace(MESSAGES["verify"], reply_due=date(2026, 11, 29)),
        False,
        ["header"],
    ),
    (
        "ack_status_mismatch",
        lambda: replace(MESSAGES["ack"], status=AckStatus.RECEIVED),
        False,
        ["header"],
    ),
]


@pytest.mark.parametrize(("code", "make", "with_co", "boxes"), MSG_CASES, ids=lambda v: v)
def test_message_rule(code: str, make: Callable[[], Any], with_co: bool, boxes: list[str]) -> None:
    findings = check_message(make(), CTX, good() if with_co else None)
    assert codes(findings) == {code}, findings
    assert [f.box for f in findings] == boxes


def test_every_rule_has_a_case() -> None:
    assert {s.code for s in RULES} == {c[0] for c in CERT_CASES}
    assert {s.code for s in MESSAGE_RULES} == {c[0] for c in MSG_CASES}


def test_rules_needing_the_certificate_are_skipped_without_it() -> None:
    unknown = decisions(ItemDecision(4, PreferenceDecision.GIVEN))
    assert check_message(unknown, CTX) == ()
    assert codes(check_message(unknown, CTX, good())) == {"response_item_unknown"}


# -- one box per finding ---------------------------------------------------------------------


def test_future_dates_name_their_own_boxes() -> None:
    later = TODAY + timedelta(days=5)
    co = replace(
        shipped(good(), later),
        declaration=replace(good().declaration, date=later),
        certification=replace(good().certification, issue_date=later),
        original_certificate=OriginalCertificate("SG-1", later),
    )
    co = item(co, 1, invoices=(replace(co.items[0].invoices[0], date=later),))
    future = [f for f in check(co, CTX) if f.code == "date_in_future"]
    assert sorted(f.box for f in future) == ["10", "11", "12", "3", "7"]


# -- every finding at once -------------------------------------------------------------------


def test_all_findings_at_once_errors_and_warnings_apart() -> None:
    co = good()
    co = item(co, 1, fob=None)  # fob_required_for_rvc
    co = item(co, 3, fob=FOB, item_no=5)  # fob_without_rvc, item_numbering
    co = item(co, 2, origin=OriginCriterion(CriterionKind.RVC, Decimal("30")))  # rvc_below
    co = replace(
        shipped(co, date(2026, 10, 1)),  # retroactive_marking_missing
        back_to_back=True,  # back_to_back_without_original (warning)
        third_country_invoicing=True,  # third_country_invoicer_missing
        declaration=replace(co.declaration, importing_country="KR"),  # same_exporting_importing
    )
    ctx = RuleContext(TODAY, importer_rules={"hs_min_digits": 8})  # hs_too_short
    findings = check(co, ctx)
    assert codes(findings) == {
        "fob_required_for_rvc",
        "fob_without_rvc",
        "item_numbering",
        "rvc_below_minimum",
        "retroactive_marking_missing",
        "back_to_back_without_original",
        "third_country_invoicer_missing",
        "same_exporting_importing",
        "hs_too_short",
    }
    assert codes(errors_in(findings)) == codes(findings) - {"back_to_back_without_original"}
    assert all(f.severity is Severity.WARNING for f in findings if f not in errors_in(findings))
    assert check(co, ctx) == findings  # pure: same input, same answer


def test_a_warning_alone_leaves_the_certificate_valid() -> None:
    findings = check(replace(good(), back_to_back=True), CTX)
    assert findings and errors_in(findings) == ()


# -- details the cases above do not pin -------------------------------------------------------


def test_importer_rules_set_the_thresholds() -> None:
    stricter = RuleContext(TODAY, importer_rules={"rvc_min_percent": 41})
    (finding,) = check(good(), stricter)  # item 1 has 40 %, item 2 45.5 %
    assert (finding.code, finding.message[:6]) == ("rvc_below_minimum", "item 1")
    late = replace(MESSAGES["verify"], reply_due=date(2026, 12, 29))  # 3 months: 30 Dec
    ctx = RuleContext(TODAY, importer_rules={"verification_reply_months": 3})
    assert codes(check_message(late, ctx)) == {"verification_reply_due"}


def test_rvc_criterion_without_a_percentage_is_below_the_minimum() -> None:
    co = item(good(), 2, origin=OriginCriterion(CriterionKind.RVC, None))
    assert codes(check(co, CTX)) == {"rvc_below_minimum"}


def test_expiry_counts_from_the_original_issue_date_of_a_replacement() -> None:
    new = replace(
        good(),
        reference_no="KR-2026-BS-004712",
        replaces_reference_no="KR-2026-BS-004711",
        original_issue_date=date(2025, 11, 1),
    )
    assert codes(check(new, RuleContext(TODAY, MessageFunction.REPLACE))) == {"certificate_expired"}


def test_a_replacement_is_not_retroactive_when_its_original_was_on_time() -> None:
    new = replace(
        good(),
        reference_no="KR-2026-BS-004712",
        replaces_reference_no="KR-2026-BS-004711",
        original_issue_date=ISSUED,
        certification=replace(good().certification, issue_date=TODAY),
    )
    assert check(new, RuleContext(TODAY, MessageFunction.REPLACE)) == ()


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"replaces_reference_no": "KR-2026-BS-004711"}, "new reference number"),
        ({"replaces_reference_no": "KR-1", "original_issue_date": None}, "keep the original"),
        ({"replaces_reference_no": "KR-1", "original_issue_date": TODAY}, "after this CO's"),
    ],
)
def test_replacement_findings(changes: dict[str, Any], fragment: str) -> None:
    base = {"original_issue_date": date(2026, 11, 2), **changes}
    findings = check(replace(good(), **base), REPLACE)
    assert codes(findings) == {"replacement_without_reference"}
    assert any(fragment in f.message for f in findings), findings


def test_implied_function() -> None:
    assert implied_function(good()) is MessageFunction.ORIGINAL
    assert implied_function(replace(good(), original_issue_date=ISSUED)) is MessageFunction.REPLACE


def test_third_country_invoicer_given_is_fine() -> None:
    co = replace(
        good(), third_country_invoicing=True, third_country_invoicer=Party("HK Co", "HK", "HK")
    )
    assert check(co, CTX) == ()


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 20), 1, date(2026, 11, 23)),  # Fri + 1 = Mon
        (date(2026, 11, 21), 3, date(2026, 11, 25)),  # Sat + 3 = Wed
        (date(2026, 11, 16), 3, date(2026, 11, 19)),
    ],
)
def test_add_working_days(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 11, 20), 2, date(2027, 1, 20)),
        (date(2026, 3, 31), -13, date(2025, 2, 28)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_default_reply_due_is_two_months() -> None:
    assert default_reply_due(date(2026, 12, 31)) == date(2027, 2, 28)


def test_dates_at_the_end_of_the_calendar_are_findings_not_crashes() -> None:
    """Year 9999 in a departure, issue or request date: OverflowError and ValueError before."""
    end = date(9999, 12, 30)
    assert add_working_days(end, 3) == date.max
    assert add_months(end, 12) == date.max
    assert default_reply_due(end) == date.max
    co = sample_form_ak("KR-2026-AK-009999", "KR", "VN", end)
    co = replace(co, transport=replace(co.transport, departure_date=end))
    findings = check(co, RuleContext(today=date(2026, 3, 2), function=MessageFunction.ORIGINAL))
    assert "date_in_future" in {f.code for f in findings}
