"""Working calendars per AKFTA Party: weekly rest days and known public holidays, as data.

The "issued retroactively" rule counts 3 working days on the issuing Party's calendar
(revised AKFTA OCP). Brunei works Monday to Thursday and Saturday; the others Monday to
Friday. A calendar is *certain* for a span only when its public holidays are known for every
year the span touches: otherwise a missed holiday could make a genuine CO look late, so the
rule may only warn. Pure: the tables come from ``config/calendars.toml`` via ``ak_bridge.config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKEND = frozenset({SAT, SUN})
DEFAULT_REST_DAYS: Mapping[str, frozenset[int]] = {"BN": frozenset({FRI, SUN})}


@dataclass(frozen=True)
class WorkingCalendar:
    """One Party's working days; ``holiday_years`` are the years whose holidays are listed."""

    rest_days: frozenset[int] = WEEKEND
    holidays: frozenset[date] = frozenset()
    holiday_years: frozenset[int] = frozenset()

    def is_working_day(self, day: date) -> bool:
        return day.weekday() not in self.rest_days and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """``start`` plus ``days`` working days (``start`` itself not counted).

        Past the calendar's end (year 9999) it is ``date.max``: a deadline never reached."""
        current = start
        while days > 0:
            if current == date.max:
                return date.max
            current += timedelta(days=1)
            if self.is_working_day(current):
                days -= 1
        return current

    def certain(self, start: date, end: date) -> bool:
        """Whether the holidays of every year from ``start`` to ``end`` are known."""
        return all(y in self.holiday_years for y in range(start.year, end.year + 1))


@dataclass(frozen=True)
class Calendars:
    """The calendars of all Parties; a Party without a table gets its default rest days."""

    by_country: Mapping[str, WorkingCalendar] = field(default_factory=dict)

    def of(self, country: str) -> WorkingCalendar:
        if country in self.by_country:
            return self.by_country[country]
        return WorkingCalendar(rest_days=DEFAULT_REST_DAYS.get(country, WEEKEND))


DAY_NAMES = {"mon": MON, "tue": TUE, "wed": WED, "thu": THU, "fri": FRI, "sat": SAT, "sun": SUN}


def calendar_from_table(country: str, table: Mapping[str, object]) -> WorkingCalendar:
    """One ``[calendars.XX]`` table: ``rest_days = ["fri", "sun"]``, ``holidays = [dates]``,
    ``holiday_years = [2026]``. Raises ValueError with what is wrong (config turns it typed)."""
    rest = table.get("rest_days", None)
    rest_days = DEFAULT_REST_DAYS.get(country, WEEKEND)
    if rest is not None:
        if not isinstance(rest, list) or any(str(d).lower() not in DAY_NAMES for d in rest):
            raise ValueError(f"rest_days must be a list of {sorted(DAY_NAMES)}")
        rest_days = frozenset(DAY_NAMES[str(d).lower()] for d in rest)
    holidays = table.get("holidays", [])
    if not isinstance(holidays, list) or not all(isinstance(d, date) for d in holidays):
        raise ValueError("holidays must be a list of dates (YYYY-MM-DD)")
    years = table.get("holiday_years", [])
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        raise ValueError("holiday_years must be a list of years")
    return WorkingCalendar(rest_days, frozenset(holidays), frozenset(years))
