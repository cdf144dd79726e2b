"""The one retry policy of the router and backfill, as a table."""

from __future__ import annotations

import random

import pytest

from trackwell.core.outcomes import Outcome
from trackwell.pipeline.retry import RetryPolicy, backoff_seconds

POLICY = RetryPolicy(max_attempts=3, backoff_base=1.0, backoff_cap=10.0)


@pytest.mark.parametrize(
    ("outcome", "attempts", "counted", "dead", "reason"),
    [
        (Outcome("dead", "HTTP 400: bad"), 1, True, True, "HTTP 400: bad"),
        (Outcome("dead"), 1, True, True, "refused"),
        (Outcome("retry", "HTTP 503"), 2, True, False, "HTTP 503"),
        (Outcome("retry", "HTTP 503"), 3, True, True, "gave up after 3 attempts; last: HTTP 503"),
        # A probe sent ahead of schedule never spends the last attempt.
        (Outcome("retry", "HTTP 503"), 3, False, False, "HTTP 503"),
    ],
)
def test_the_decision_table(
    outcome: Outcome, attempts: int, counted: bool, dead: bool, reason: str
) -> None:
    decision = POLICY.after(outcome, attempts, counted=counted)
    assert (decision.dead, decision.reason) == (dead, reason)


def test_retry_after_wins_over_the_backoff_even_when_zero() -> None:
    assert POLICY.after(Outcome("retry", "HTTP 429", retry_after=30.0), 1).wait == 30.0
    assert POLICY.after(Outcome("retry", "HTTP 429", retry_after=0.0), 1).wait == 0.0


def test_the_backoff_is_full_jitter_under_a_cap() -> None:
    waits = [POLICY.after(Outcome("retry"), 2).wait for _ in range(200)]
    assert all(0 <= w <= 4.0 for w in waits) and max(waits) > 1.0
    assert all(0 <= POLICY.backoff(40) <= 10.0 for _ in range(50))
    assert backoff_seconds(0, base=1.0, cap=10.0, rng=random.Random(1)) <= 1.0


def test_a_policy_that_could_never_send_is_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
