"""The delivery retry policy the router and backfill share: attempt limit, backoff, Retry-After.

Which answers are worth retrying is the destination's call (`destinations/retry.py` turns a
status and its headers into an `Outcome`); what to do with a retryable one is decided here,
once: give up after `max_attempts`, else wait what the tool asked (Retry-After) or an
exponential backoff with full jitter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from trackwell.core.outcomes import Outcome

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 600.0
DEFAULT_MAX_ATTEMPTS = 12


def backoff_seconds(
    attempt: int,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    return (rng or random).uniform(0, ceiling)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do with a message the tool did not take: retry after `wait` seconds, or give up
    (`dead`, with the reason people read)."""

    dead: bool
    wait: float = 0.0
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a message is retried."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = BACKOFF_BASE_SECONDS
    backoff_cap: float = BACKOFF_CAP_SECONDS

    def __post_init__(self) -> None:
        """Refuse a policy that could never send or never wait."""
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("backoff_base and backoff_cap must not be negative")

    def backoff(self, attempts: int) -> float:
        """A jittered wait after `attempts` failed attempts (at least one)."""
        return backoff_seconds(max(attempts, 1), base=self.backoff_base, cap=self.backoff_cap)

    def after(self, outcome: Outcome, attempts: int, *, counted: bool = True) -> RetryDecision:
        """The verdict on a message whose latest attempt (the `attempts`-th) was not delivered.

        A refusal (`dead`) is final at once; a retryable answer is given up on once `attempts`
        reaches `max_attempts`, unless the attempt was not `counted` (a probe sent ahead of the
        message's own schedule), which can never be what makes a message dead. The tool's own
        Retry-After wins over the backoff.
        """
        if outcome.kind == "dead":
            return RetryDecision(True, reason=outcome.error or "refused")
        if counted and attempts >= self.max_attempts:
            last = outcome.error or "refused"
            return RetryDecision(True, reason=f"gave up after {attempts} attempts; last: {last}")
        wait = outcome.retry_after
        return RetryDecision(False, self.backoff(attempts) if wait is None else wait, outcome.error)
