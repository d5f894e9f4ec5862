"""The retry policy: exponential backoff, its cap, its jitter, and when to give up."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ak_bridge.core.retry import RetryPolicy

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NO_JITTER = RetryPolicy(base_delay=5, factor=2, max_delay=3600, jitter=0)


def test_delays_grow_by_the_factor() -> None:
    assert [NO_JITTER.delay(n) for n in range(1, 7)] == [5, 10, 20, 40, 80, 160]
    triple = RetryPolicy(base_delay=2, factor=3, jitter=0)
    assert [triple.delay(n) for n in (1, 2, 3, 4)] == [2, 6, 18, 54]


def test_constant_backoff_with_factor_one() -> None:
    flat = RetryPolicy(base_delay=30, factor=1, jitter=0)
    assert {flat.delay(n) for n in range(1, 50)} == {30}


def test_no_attempt_yet_waits_the_base_delay() -> None:
    assert NO_JITTER.delay(0) == NO_JITTER.delay(1) == 5


def test_delays_are_capped_at_max_delay() -> None:
    capped = RetryPolicy(base_delay=5, factor=2, max_delay=30, jitter=0)
    assert [capped.delay(n) for n in range(1, 7)] == [5, 10, 20, 30, 30, 30]
    assert NO_JITTER.delay(100) == 3600
    assert NO_JITTER.delay(10_000) == 3600  # no overflow, however many attempts


def test_jitter_stays_within_plus_minus_jitter() -> None:
    policy = RetryPolicy(base_delay=100, factor=2, max_delay=10_000, jitter=0.2)
    assert policy.delay(1, rand=0.5) == 100
    assert policy.delay(1, rand=0.0) == pytest.approx(80)
    assert policy.delay(1, rand=0.999999) == pytest.approx(120, rel=1e-5)
    spread = [policy.delay(3, rand=i / 1000) for i in range(1000)]
    assert min(spread) == pytest.approx(320) and max(spread) < 480
    assert max(spread) == pytest.approx(480, rel=1e-2)
    # jitter applies around the cap too: a crowd at the cap is still spread out
    assert policy.delay(50, rand=0.0) == pytest.approx(8000)
    assert policy.delay(50, rand=0.999999) == pytest.approx(12000, rel=1e-5)


def test_next_attempt_at_adds_the_delay_to_now() -> None:
    assert NO_JITTER.next_attempt_at(3, NOW) == NOW + timedelta(seconds=20)
    jittery = RetryPolicy(base_delay=10, jitter=0.5)
    assert jittery.next_attempt_at(1, NOW, rand=0.0) == NOW + timedelta(seconds=5)


def test_exhausted_by_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not policy.is_exhausted(1, NOW, NOW)
    assert not policy.is_exhausted(2, NOW, NOW)
    assert policy.is_exhausted(3, NOW, NOW)
    assert policy.is_exhausted(4, NOW, NOW)
    assert RetryPolicy(max_attempts=1).is_exhausted(1, NOW, NOW)


def test_exhausted_by_age() -> None:
    policy = RetryPolicy(max_attempts=100, max_age=3600)
    first = NOW - timedelta(seconds=3599)
    assert not policy.is_exhausted(1, first, NOW)
    assert policy.is_exhausted(1, NOW - timedelta(seconds=3600), NOW)
    assert policy.is_exhausted(1, NOW - timedelta(days=3), NOW)


def test_default_policy() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.max_age) == (8, 72 * 3600)
    assert policy.delay(1) == 5 and policy.delay(100) == 3600


@pytest.mark.parametrize(
    "bad",
    [
        {"max_attempts": 0},
        {"max_attempts": -1},
        {"base_delay": -1},
        {"max_delay": -0.5},
        {"max_age": 0},
        {"max_age": -10},
        {"factor": 0.5},
        {"factor": 0},
        {"jitter": -0.1},
        {"jitter": 1.5},
        {"jitter": math.nan},
        {"base_delay": math.nan},
        {"max_attempts": math.nan},
        {"max_age": math.nan},
        {"factor": math.inf},
        {"max_delay": math.inf},
    ],
    ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()),
)
def test_invalid_policies_raise_value_error(bad: dict) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)


def test_boundary_policies_are_valid() -> None:
    RetryPolicy(max_attempts=1, base_delay=0, factor=1, max_delay=0, jitter=0)
    RetryPolicy(jitter=1, max_age=math.inf)
    assert RetryPolicy(base_delay=0, jitter=1).delay(10_000, rand=0.99) == 0


policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 50),
    base_delay=st.floats(0, 600, allow_nan=False),
    factor=st.floats(1, 10, allow_nan=False),
    max_delay=st.floats(0, 86_400, allow_nan=False),
    jitter=st.floats(0, 1, allow_nan=False),
    max_age=st.floats(1, 10**7, allow_nan=False),
)
rands = st.floats(0, 1, exclude_max=True, allow_nan=False)


@given(policies, st.integers(0, 5_000), st.integers(0, 5_000), rands)
def test_delay_is_monotone_in_attempts_and_bounded(
    policy: RetryPolicy, a: int, b: int, rand: float
) -> None:
    fewer, more = sorted((a, b))
    d_fewer, d_more = policy.delay(fewer, rand), policy.delay(more, rand)
    assert d_fewer <= d_more
    for d in (d_fewer, d_more):
        assert 0 <= d <= policy.max_delay * (1 + policy.jitter)
