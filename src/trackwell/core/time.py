"""Time as the store counts it: milliseconds since the Unix epoch, and UTC days since it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

DAY_MS = 86_400_000


def now_ms() -> int:
    """The wall clock in milliseconds since the epoch (what rows and rollups are stamped with)."""
    return int(time.time() * 1000)


def to_ms(value: datetime) -> int:
    """An aware datetime as milliseconds since the epoch."""
    return int(value.timestamp() * 1000)


def iso_seconds(ms: int) -> str:
    """Milliseconds since the epoch as ISO-8601 in UTC to the second: `2026-03-02T14:00:05Z`."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")[:-6] + "Z"


def day_start(day: int) -> datetime:
    """Midnight UTC of a day counted since the epoch (`ms // DAY_MS`)."""
    return datetime.fromtimestamp(day * 86_400, UTC)


def day_label(day: int) -> str:
    """A day counted since the epoch as `2026-03-02`."""
    return day_start(day).strftime("%Y-%m-%d")
