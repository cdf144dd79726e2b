"""Which answers are worth retrying: the status and Retry-After of a response as an `Outcome`.

What is done with a retryable answer (attempt limit, backoff) is `trackwell.pipeline.retry`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from trackwell.core.outcomes import Outcome

MAX_RETRY_AFTER_SECONDS = 3600.0


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), if any."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def classify(status: int, headers: Mapping[str, str], body_text: str = "") -> Outcome:
    """2xx delivered; 408, 429 and 5xx retried (honouring Retry-After); other 4xx dead."""
    if 200 <= status < 300:
        return Outcome("delivered")
    error = f"HTTP {status}: {body_text}" if body_text else f"HTTP {status}"
    if status in (408, 429) or status >= 500:
        return Outcome("retry", error, retry_after_seconds(headers))
    return Outcome("dead", error)
