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

from ak_bridge.core.calendars import Calendars, WorkingCalendar
from ak_bridge.core.errors import Finding, Severity
from ak_bridge.core.model import (
    Ack,
    AckStatus,
    CancellationNotice,
    CriterionKind,
    CustomsResponse,
    DeterminationResult,
    FormAK,
    ItemDecision,
    ItemDetermination,
    MessageFunction,
    Money,
    OriginalCertificate,
    OriginCriterion,
    Party,
    PreferenceDecision,
    Quantity,
    Reconsideration,
    RetransmissionRequest,
    VerificationDetermination,
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


def to(co: FormAK, country: str) -> FormAK:
    """The same CO imported into ``country``, consignee there too."""
    return replace(
        co,
        declaration=replace(co.declaration, importing_country=country),
        consignee=replace(co.consignee, country=country),
    )


def codes(findings: tuple[Finding, ...]) -> set[str]:
    return {f.code for f in findings}


def test_the_base_cases_pass_every_rule() -> None:
    assert check(good(), CTX) == ()
    for msg in MESSAGES.values():
        assert check_message(msg, CTX, good()) == (), msg


# -- certificates: (code, broken certificate, context, boxes of the findings) -----------------

FOB = Money(Decimal("1000"), "USD")
REPLACE = RuleContext(TODAY, MessageFunction.REPLACE)
KR_CERTAIN = RuleContext(
    TODAY, calendars=Calendars({"KR": WorkingCalendar(holiday_years=frozenset({2026}))})
)
CertCase = tuple[str, Callable[[], FormAK], RuleContext, list[str]]
CERT_CASES: list[CertCase] = [
    (
        "issuing_country_not_party",
        lambda: replace(
            good(), issuing_country="CN", exporter=replace(good().exporter, country="CN")
        ),
        CTX,
        ["header"],
    ),
    (
        "importing_country_not_party",
        lambda: to(good(), "JP"),
        CTX,
        ["11"],
    ),
    (
        "same_exporting_importing",
        lambda: to(good(), "KR"),
        CTX,
        ["11"],
    ),
    ("hs_too_short", lambda: item(good(), 2, hs_code="8708"), CTX, ["7"]),
    (
        "hs_fewer_than_national",
        lambda: good(),
        RuleContext(TODAY, importer_rules={"hs_min_digits": 8}),
        ["7", "7", "7"],
    ),
    (
        "rvc_threshold_missing",
        lambda: item(good(), 2, origin=OriginCriterion(CriterionKind.RVC, None)),
        CTX,
        ["8"],
    ),
    (
        "exporter_not_in_issuing_country",
        lambda: replace(good(), exporter=replace(good().exporter, country="TH")),
        CTX,
        ["1"],
    ),
    (
        "consignee_not_in_importing_country",
        lambda: replace(good(), consignee=replace(good().consignee, country="TH")),
        CTX,
        ["2"],
    ),
    ("fob_required_for_rvc", lambda: item(good(), 2, fob=None), CTX, ["9"]),
    (
        "box9_quantity_missing",
        lambda: item(good(), 1, gross_weight=None, quantity=None),
        CTX,
        ["9"],
    ),
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
        lambda: shipped(good(), date(2026, 11, 2)),  # Mon + 3 = Thu 5th, + 1 day = Fri 6th
        KR_CERTAIN,
        ["marking"],
    ),
    (
        "retroactive_marking_likely_missing",
        lambda: shipped(good(), date(2026, 11, 2)),
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


def test_box9_another_quantity_is_enough_without_gross_weight() -> None:
    """Issue 11 point 8: "gross weight or other quantity"."""
    other = Quantity(Decimal("1200"), "PCE")
    assert check(item(good(), 1, gross_weight=None, quantity=other), CTX) == ()


def test_rules_needing_the_certificate_are_skipped_without_it() -> None:
    unknown = decisions(ItemDecision(4, PreferenceDecision.GIVEN))
    assert check_message(unknown, CTX) == ()
    assert codes(check_message(unknown, CTX, good())) == {"response_item_unknown"}


def test_a_reconsideration_and_a_determination_decide_only_the_cos_items_once() -> None:
    """Messages 1.1 deciding per item (Box 4 reconsidered; the verification's determination)
    are held to the customs response's item rules: refused, not passed to the issuer."""
    given = ItemDecision(2, PreferenceDecision.GIVEN)
    recons = Reconsideration(*REF, "105938274610", TODAY, (given,))
    det = VerificationDetermination(
        *REF, "KCS-VR-1", TODAY, (ItemDetermination(1, DeterminationResult.ORIGINATING),)
    )
    assert check_message(recons, CTX, good()) == check_message(det, CTX, good()) == ()
    for msg in (
        replace(recons, decisions=(given, ItemDecision(4, PreferenceDecision.GIVEN))),
        replace(det, items=(*det.items, ItemDetermination(9, DeterminationResult.ORIGINATING))),
    ):
        assert [(f.code, f.box) for f in check_message(msg, CTX, good())] == [
            ("response_item_unknown", "4")
        ]
    for msg in (
        replace(recons, decisions=(given, given)),
        replace(det, items=det.items * 2),
    ):
        assert [(f.code, f.box) for f in check_message(msg, CTX)] == [
            ("response_item_repeated", "4")
        ]


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
    co = item(co, 2, origin=OriginCriterion(CriterionKind.RVC, None))  # rvc_threshold_missing
    co = replace(
        shipped(co, date(2026, 10, 1)),  # retroactive_marking_missing
        back_to_back=True,  # back_to_back_without_original (warning)
        third_country_invoicing=True,  # third_country_invoicer_missing
        declaration=replace(co.declaration, importing_country="KR"),  # same_exporting_importing
    )
    co = item(co, 1, hs_code="8708")  # hs_too_short
    ctx = replace(KR_CERTAIN, importer_rules={"hs_min_digits": 8})  # hs_fewer_than_national
    findings = check(co, ctx)
    assert codes(findings) == {
        "fob_required_for_rvc",
        "fob_without_rvc",
        "item_numbering",
        "rvc_threshold_missing",
        "retroactive_marking_missing",
        "back_to_back_without_original",
        "third_country_invoicer_missing",
        "same_exporting_importing",
        "consignee_not_in_importing_country",  # the consignee is in VN, now the importer is KR
        "hs_too_short",
        "hs_fewer_than_national",
    }
    warnings = {
        "back_to_back_without_original",
        "fob_without_rvc",
        "consignee_not_in_importing_country",
        "hs_fewer_than_national",
    }
    assert codes(errors_in(findings)) == codes(findings) - warnings
    assert all(f.severity is Severity.WARNING for f in findings if f not in errors_in(findings))
    assert check(co, ctx) == findings  # pure: same input, same answer


def test_a_warning_alone_leaves_the_certificate_valid() -> None:
    findings = check(replace(good(), back_to_back=True), CTX)
    assert findings and errors_in(findings) == ()


# -- details the cases above do not pin -------------------------------------------------------


def test_importer_rules_set_the_reply_period_not_the_rvc_threshold() -> None:
    # rvc_min_percent is gone: the importing Party does not set Box 8's threshold.
    assert check(good(), RuleContext(TODAY, importer_rules={"rvc_min_percent": 41})) == ()
    late = replace(MESSAGES["verify"], reply_due=date(2026, 12, 29))  # 3 months: 30 Dec
    ctx = RuleContext(TODAY, importer_rules={"verification_reply_months": 3})
    assert codes(check_message(late, ctx)) == {"verification_reply_due"}


def test_expiry_counts_from_the_original_issue_date_of_a_replacement() -> None:
    new = replace(
        good(),
        reference_no="KR-2026-BS-004712",
        replaces_reference_no="KR-2026-BS-004711",
        original_issue_date=date(2025, 11, 1),
    )
    findings = check(new, RuleContext(TODAY, MessageFunction.REPLACE))
    assert codes(findings) == {"certificate_expired"}
    assert errors_in(findings) == ()  # a presentation deadline, not an exchange refusal


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


# -- issue 11: rules that match the Agreement ------------------------------------------------


def test_six_hs_digits_are_never_refused_whatever_the_importer_tariff() -> None:
    findings = check(good(), RuleContext(TODAY, importer_rules={"hs_min_digits": 10}))
    assert codes(findings) == {"hs_fewer_than_national"} and errors_in(findings) == ()


def test_fob_under_a_non_rvc_criterion_is_only_a_warning() -> None:
    findings = check(item(good(), 3, fob=FOB), CTX)
    assert codes(findings) == {"fob_without_rvc"} and errors_in(findings) == ()


def test_an_rvc_threshold_below_40_is_pointed_out_not_refused() -> None:
    findings = check(item(good(), 2, origin=OriginCriterion(CriterionKind.RVC, Decimal("35"))), CTX)
    assert codes(findings) == {"rvc_below_minimum"} and errors_in(findings) == ()


def test_an_old_co_is_carried_with_a_warning_for_importing_customs() -> None:
    findings = check(good(), RuleContext(date(2027, 11, 10)))
    assert codes(findings) == {"certificate_expired"} and errors_in(findings) == ()


@pytest.mark.parametrize("flag", ["back_to_back", "certified_true_copy"])
def test_back_to_back_and_true_copy_count_from_the_original_co(flag: str) -> None:
    original = OriginalCertificate("SG-2025-000123", date(2025, 11, 1), "SG")
    co = replace(good(), original_certificate=original, **{flag: True})
    late = check(co, CTX)
    assert codes(late) == {"certificate_expired"}
    assert "original CO's issue date 2025-11-01" in late[0].message


def test_a_true_copy_of_an_on_time_co_is_not_retroactive() -> None:
    original = OriginalCertificate("KR-2026-BS-004000", date(2026, 11, 2), "KR")
    copy = replace(
        shipped(good(), date(2026, 10, 30)),
        certified_true_copy=True,
        original_certificate=original,
        certification=replace(good().certification, issue_date=TODAY),
    )
    assert check(copy, KR_CERTAIN) == ()


def test_one_day_counting_difference_is_tolerated() -> None:
    # Mon 2 Nov + 3 working days = Thu 5th; issued Fri 6th is within the 27th SC tolerance.
    co = replace(
        shipped(good(), date(2026, 11, 2)),
        certification=replace(good().certification, issue_date=date(2026, 11, 6)),
    )
    assert check(co, KR_CERTAIN) == ()


def test_a_public_holiday_lengthens_the_window() -> None:
    holiday = WorkingCalendar(
        holidays=frozenset({date(2026, 11, 4)}), holiday_years=frozenset({2026})
    )
    ctx = RuleContext(TODAY, calendars=Calendars({"KR": holiday}))
    co = replace(
        shipped(good(), date(2026, 11, 2)),
        certification=replace(good().certification, issue_date=date(2026, 11, 9)),
    )
    assert check(co, ctx) == ()  # due Fri 6th, + 1 day = Mon 9th
    assert codes(check(co, KR_CERTAIN)) == {"retroactive_marking_missing"}


def test_brunei_works_monday_to_thursday_and_saturday() -> None:
    cal = Calendars().of("BN")
    # Wed 4 Nov 2026 + 3 working days: Thu 5, (Fri off) Sat 7, (Sun off) Mon 9.
    assert cal.add_working_days(date(2026, 11, 4), 3) == date(2026, 11, 9)
    assert Calendars().of("KR").add_working_days(date(2026, 11, 4), 3) == date(2026, 11, 9)
    assert cal.add_working_days(date(2026, 11, 3), 3) == date(2026, 11, 7)  # a Saturday


@pytest.mark.parametrize(
    "make",
    [
        lambda: shipped(good(), date(9999, 12, 30)),
        lambda: replace(
            good(), certification=replace(good().certification, issue_date=date(9999, 12, 31))
        ),
        lambda: replace(
            good(),
            back_to_back=True,
            original_certificate=OriginalCertificate("SG-1", date(9999, 6, 1), "SG"),
        ),
    ],
)
def test_year_9999_dates_are_findings_not_exceptions(make: Callable[[], FormAK]) -> None:
    findings = check(make(), KR_CERTAIN)
    assert "date_in_future" in codes(findings)
    assert {f.box for f in findings if f.code == "date_in_future"} <= {"3", "12", "7"}


def test_a_year_9999_request_date_is_a_finding() -> None:
    msg = replace(MESSAGES["verify"], requested_on=date(9999, 12, 31), reply_due=date(9999, 12, 31))
    (finding,) = check_message(msg, CTX)
    assert (finding.code, finding.box) == ("date_in_future", "header")
