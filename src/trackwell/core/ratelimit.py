"""The token bucket: a rate in units a second, with bursts of up to one second's worth."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Tokens refill at `rate` a second up to `rate` (one second's worth); None or 0: no limit.

    Two ways to spend, for two kinds of caller. `delay` always takes and says how long to wait
    (a sender that paces itself: the router, backfill). `admit` takes only while the bucket is
    not in debt and otherwise refuses with the wait (a gateway answering 429): a batch larger
    than the bucket passes when the bucket is full, and its debt is paid back before the next
    one, so the average stays at the rate and any batch up to the API's limit can pass.
    Thread-safe: the gateway's requests share one bucket per source.
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = rate or 0.0  # full to start with
        self._last = clock()

    def _refill(self, rate: float) -> None:
        now = self._clock()
        self._tokens = min(rate, self._tokens + (now - self._last) * rate)
        self._last = now

    def delay(self, count: int) -> float:
        """Take `count` tokens, into debt if need be; the seconds to wait before using them."""
        rate = self.rate
        if not rate:
            return 0.0
        with self._lock:
            self._refill(rate)
            self._tokens -= count
            return 0.0 if self._tokens >= 0 else -self._tokens / rate

    def admit(self, count: int) -> float:
        """Take `count` tokens unless the bucket is in debt: 0.0 when taken, else the seconds
        until it may take again (at least one token's worth, so a retry is not refused again)."""
        rate = self.rate
        if not rate:
            return 0.0
        with self._lock:
            self._refill(rate)
            if self._tokens <= 0:
                return max(-self._tokens / rate, 1.0 / rate)
            self._tokens -= count
            return 0.0
