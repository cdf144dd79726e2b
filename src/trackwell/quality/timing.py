"""Action-time checks: missing, in the future, or too old for live traffic."""

from __future__ import annotations

from datetime import timedelta

from trackwell.core.messages import Message
from trackwell.core.violations import Effect, Violation

FUTURE_TOLERANCE = timedelta(minutes=5)
# Customer.io, Mixpanel and Amplitude reject or mishandle events older than about 13 months.
STALE_AFTER = timedelta(days=395)


def check_time(message: Message, *, backfill: bool = False) -> tuple[list[Violation], bool]:
    """Timestamp violations, and whether the action time must be clamped to receivedAt."""
    if message.timestamp_missing:
        return [
            Violation(
                "missing_timestamp",
                "timestamp",
                "no action timestamp; receivedAt was used, so time-based workflows see queue time",
            )
        ], False
    received, timestamp = message.received_at, message.timestamp
    if received is None or timestamp is None:
        return [], False
    if timestamp - received > FUTURE_TOLERANCE:
        ahead = timestamp - received
        return [
            Violation(
                "future_timestamp",
                "timestamp",
                f"action time is {_human(ahead)} ahead of receivedAt after clock-skew correction; "
                "receivedAt was used",
                "repair",
            )
        ], True
    age = received - timestamp
    if age > STALE_AFTER:
        effect: Effect = "report" if backfill else "block"
        hint = "" if backfill else "; send history with `trackwell backfill`"
        return [
            Violation(
                "stale_timestamp",
                "timestamp",
                f"action time is {age.days} days old (more than 13 months){hint}",
                effect,
            )
        ], False
    return [], False


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400} day(s)"
    if seconds >= 3600:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds // 60} minute(s)"
