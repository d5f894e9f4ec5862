"""Pure retry policy: when to try again, and when to give up. No clock, no I/O.

The caller passes ``now`` and a random number, so the policy is deterministic under test
and the jitter is still real in production.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped in delay, attempts and age."""

    max_attempts: int = 8
    base_delay: float = 5.0
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.2
    max_age: float = 72 * 3600.0
    breaker_threshold: int = 5  # consecutive retryable failures that open the breaker
    breaker_cooldown: float = 60.0  # seconds the breaker stays open before one probe

    def __post_init__(self) -> None:
        if any(math.isnan(getattr(self, f.name)) for f in fields(self)):
            raise ValueError("retry settings must be numbers, not NaN")
        if not all(math.isfinite(v) for v in (self.base_delay, self.factor, self.max_delay)):
            raise ValueError("base_delay, factor and max_delay must be finite")
        if self.breaker_threshold < 1 or self.breaker_cooldown < 0:
            raise ValueError("breaker_threshold must be at least 1, breaker_cooldown positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_age <= 0:
            raise ValueError("delays and max_age must be positive")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def delay(self, attempts: int, rand: float = 0.5) -> float:
        """Seconds to wait after ``attempts`` failed attempts (1 = after the first).

        ``rand`` in [0, 1) spreads the delay by +/- ``jitter`` so that many messages to a
        partner that comes back do not all retry in the same second.
        """
        try:
            grown = self.base_delay * self.factor ** max(0, attempts - 1)
        except OverflowError:  # many attempts: far beyond any cap
            grown = math.inf if self.base_delay > 0 else 0.0
        raw = min(self.max_delay, grown)
        return max(0.0, raw * (1 + self.jitter * (2 * rand - 1)))

    def next_attempt_at(self, attempts: int, now: datetime, rand: float = 0.5) -> datetime:
        return now + timedelta(seconds=self.delay(attempts, rand))

    def is_exhausted(self, attempts: int, first_attempt_at: datetime, now: datetime) -> bool:
        """True when no further attempt may be made: too many, or the message is too old."""
        too_old = (now - first_attempt_at).total_seconds() >= self.max_age
        return attempts >= self.max_attempts or too_old


@dataclass(frozen=True)
class Breaker:
    """Circuit breaker of one partner: consecutive failures, and until when it is open.

    closed: deliver normally. open (``open_until`` in the future): deliver nothing, so a
    partner that is down is not hammered and no attempt of any message is wasted on it.
    half-open (``open_until`` passed): let exactly one delivery through as a probe; its
    success closes the breaker, its failure opens it again for another cooldown.
    """

    failures: int = 0
    open_until: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.open_until is None:
            return "closed"
        return "open" if now < self.open_until else "half_open"

    def allowance(self, now: datetime, normal: int) -> int:
        """How many deliveries may be claimed for this partner now."""
        return {"closed": normal, "open": 0, "half_open": min(1, normal)}[self.state(now)]

    def after_success(self) -> Breaker:
        return Breaker()

    def after_failure(self, now: datetime, policy: RetryPolicy) -> Breaker:
        failures = self.failures + 1
        if self.open_until is not None or failures >= policy.breaker_threshold:
            return Breaker(failures, now + timedelta(seconds=policy.breaker_cooldown))
        return Breaker(failures, None)
