"""core.time: milliseconds and UTC days, as the store, monitors and faces count them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

from trackwell.core.time import DAY_MS, day_label, day_start, iso_seconds, now_ms, to_ms

MOMENT = datetime(2026, 3, 2, 14, 0, 5, 678000, tzinfo=UTC)


def test_milliseconds_both_ways() -> None:
    assert to_ms(MOMENT) == 1_772_460_005_678
    assert to_ms(MOMENT.astimezone(timezone(timedelta(hours=-5)))) == to_ms(MOMENT)
    assert iso_seconds(to_ms(MOMENT)) == "2026-03-02T14:00:05Z"
    before = int(time.time() * 1000)
    assert before <= now_ms() <= int(time.time() * 1000)


def test_days_since_the_epoch() -> None:
    day = to_ms(MOMENT) // DAY_MS
    assert day_start(day) == datetime(2026, 3, 2, tzinfo=UTC)
    assert day_label(day) == "2026-03-02"
    assert day_label(0) == "1970-01-01"
