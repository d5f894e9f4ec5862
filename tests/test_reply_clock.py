"""The verification reply clock (core/reply_clock.py): the date a reply is really due."""

from __future__ import annotations

from datetime import date

from ak_bridge.core.reply_clock import ReplyDue, acknowledged_due, effective_reply_due

ASKED = date(2026, 3, 2)
DUE = date(2026, 5, 2)  # 2 months, as the request says


def test_without_acknowledgement_or_extension_the_request_date_holds() -> None:
    assert effective_reply_due(DUE) == ReplyDue(DUE, DUE)


def test_the_acknowledgement_starts_2_months_from_receipt() -> None:
    got = effective_reply_due(DUE, acknowledged_on=date(2026, 3, 20))
    assert got == ReplyDue(DUE, date(2026, 5, 20), date(2026, 3, 20))
    assert acknowledged_due(date(2026, 12, 31)) == date(2027, 2, 28)  # clamped to the month
    # an acknowledgement never shortens what the request granted
    assert effective_reply_due(date(2026, 7, 1), date(2026, 3, 20)).due == date(2026, 7, 1)


def test_the_latest_extension_moves_the_date_an_earlier_one_does_not() -> None:
    got = effective_reply_due(DUE, date(2026, 3, 20), [date(2026, 6, 1), date(2026, 7, 1)])
    assert (got.due, got.extended) == (date(2026, 7, 1), True)
    early = effective_reply_due(DUE, date(2026, 3, 20), [date(2026, 5, 10)])
    assert (early.due, early.extended) == (date(2026, 5, 20), False)


def test_days_late_count_from_the_effective_date() -> None:
    extended = effective_reply_due(DUE, None, [date(2026, 6, 1)])
    assert extended.days_late(date(2026, 5, 30)) == -2  # late by the request, not in fact
    assert extended.days_late(date(2026, 6, 4)) == 3
