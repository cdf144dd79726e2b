"""core.ratelimit: the token bucket's two ways to spend, on a clock the test moves."""

from __future__ import annotations

import threading
import time

import pytest

from trackwell.core.ratelimit import TokenBucket


def test_delay_always_takes_and_says_how_long_to_wait() -> None:
    now = [0.0]
    bucket = TokenBucket(10.0, clock=lambda: now[0])
    assert bucket.delay(10) == 0.0  # a full second's worth to start with
    assert bucket.delay(5) == pytest.approx(0.5)  # into debt: wait for five more tokens
    now[0] = 1.5
    assert bucket.delay(5) == 0.0  # 1.5 s refilled 15 tokens; the debt of 5 is paid
    now[0] = 100.0
    assert bucket.delay(0) == 0.0 and bucket.delay(10) == 0.0  # refills cap at one second
    assert bucket.delay(1) == pytest.approx(0.1)


def test_admit_refuses_while_in_debt_without_taking() -> None:
    now = [0.0]
    bucket = TokenBucket(10.0, clock=lambda: now[0])
    assert bucket.admit(25) == 0.0  # a batch larger than the bucket passes when it is full
    assert bucket.admit(1) == pytest.approx(1.5)  # ... and its debt of 15 is paid back first
    assert bucket.admit(1) == pytest.approx(1.5)  # refusals take nothing
    now[0] = 1.5
    assert bucket.admit(1) == pytest.approx(0.1)  # exactly paid back: at least one token's wait
    now[0] = 1.6
    assert bucket.admit(1) == 0.0


@pytest.mark.parametrize("rate", [None, 0.0])
def test_no_rate_is_no_limit(rate: float | None) -> None:
    bucket = TokenBucket(rate)
    assert bucket.delay(10**9) == 0.0 and bucket.admit(10**9) == 0.0


def test_threads_sharing_a_bucket_never_overspend() -> None:
    bucket = TokenBucket(1000.0, clock=lambda: 0.0)  # a frozen clock: no refills
    admitted: list[int] = []

    def spend() -> None:
        admitted.extend(1 for _ in range(500) if bucket.admit(1) == 0.0)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 1000


def test_the_default_clock_is_monotonic() -> None:
    assert TokenBucket(1.0)._clock is time.monotonic
