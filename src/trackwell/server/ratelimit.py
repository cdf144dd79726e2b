"""Per-source rate limits: a token bucket of events per second for each source that has one."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from trackwell.core.ratelimit import TokenBucket
from trackwell.server.auth import Source


class SourceLimits:
    """`[sources.NAME] rate_limit = N`: at most N events a second on average, per source.

    A request is let through while its source's bucket is not in debt, and takes one token per
    message (a batch larger than the bucket goes through when the bucket is full, and the debt
    it leaves is paid back before the next one): the average stays at N, and any batch up to
    the API's limit can pass. Requests of sources without a limit are never counted."""

    def __init__(
        self, sources: Iterable[Source], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets = {
            s.name: TokenBucket(float(s.rate_limit), clock)
            for s in sources
            if s.rate_limit is not None
        }

    def take(self, source: str, count: int) -> float:
        """Take `count` events for `source`: 0.0 when allowed, else the seconds to wait."""
        bucket = self._buckets.get(source)
        return 0.0 if bucket is None else bucket.admit(count)


def retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
