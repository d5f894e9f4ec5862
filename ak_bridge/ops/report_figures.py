"""Small figures and the ways the pilot report writes them: percentiles, latency buckets,
durations and periods in words.

Why here and not in each renderer: the text, HTML and CSV forms of the report must say the
same thing; a decision time of 60 seconds is "1.0 min" everywhere, never "0.0 h".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# Upper bounds (seconds, exclusive) of the latency histogram's buckets; the last is open.
LATENCY_BUCKETS: tuple[tuple[float, str], ...] = (
    (1, "under 1 s"),
    (5, "1–5 s"),
    (30, "5–30 s"),
    (60, "30 s–1 min"),
    (300, "1–5 min"),
    (1800, "5–30 min"),
    (3600, "30 min–1 h"),
    (6 * 3600, "1–6 h"),
    (math.inf, "6 h or more"),
)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (a value that occurred), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


@dataclass(frozen=True)
class Durations:
    """How long something took, over many cases, in seconds."""

    count: int = 0
    p50_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    max_s: float | None = None

    @classmethod
    def of(cls, seconds: list[float]) -> Durations:
        return cls(
            len(seconds),
            percentile(seconds, 0.50),
            percentile(seconds, 0.95),
            percentile(seconds, 0.99),
            max(seconds) if seconds else None,
        )


def histogram(seconds: list[float]) -> dict[str, int]:
    """Each bucket's label with how many values fall in it (every bucket, zeros included)."""
    out = {label: 0 for _, label in LATENCY_BUCKETS}
    for value in seconds:
        for bound, label in LATENCY_BUCKETS:
            if value < bound:
                out[label] += 1
                break
    return out


def human_duration(seconds: float | None) -> str:
    """A duration as people say it, precise enough to compare: 0.4 s, 12 s, 1.0 min, 3.2 h,
    4.5 days (never 0.0 h for a minute)."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def stamp(moment: datetime) -> str:
    """The one printed timestamp style: ISO 8601 in UTC to the second, e.g. 2026-11-28T18:04:32Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _midnight(moment: datetime) -> bool:
    return moment.astimezone(UTC).time() == datetime.min.time()


def last_day(until: datetime) -> date:
    """The last day a period ending (exclusive) at ``until`` covers."""
    return (until - timedelta(microseconds=1)).astimezone(UTC).date()


def iso_period(since: datetime, until: datetime) -> str:
    """2026-11-01 to 2026-11-28 (whole days), else the two instants to the second."""
    if _midnight(since) and _midnight(until):
        return f"{since.date().isoformat()} to {last_day(until).isoformat()}"
    return f"{stamp(since)} to {stamp(until)}"


def _long(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def words_period(since: datetime, until: datetime) -> str:
    """Between 1 and 28 November 2026 / Between 30 October 2026 and 2 November 2026."""
    if not (_midnight(since) and _midnight(until)):
        return f"Between {stamp(since)} and {stamp(until)}"
    first, last = since.astimezone(UTC).date(), last_day(until)
    if first == last:
        return f"On {_long(first)}"
    if (first.year, first.month) == (last.year, last.month):
        return f"Between {first.day} and {_long(last)}"
    return f"Between {_long(first)} and {_long(last)}"


def days(since: datetime, until: datetime) -> list[date]:
    """Every day the period touches, in order (a daily series has its empty days too)."""
    first, last = since.astimezone(UTC).date(), last_day(until)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


def human_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"
