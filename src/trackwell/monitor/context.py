"""What a monitor sees: the store's rollups (read once per evaluation), the plan, its thresholds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

# Re-exported: every monitor takes its day arithmetic from its context module.
from trackwell.core.time import DAY_MS as DAY_MS
from trackwell.core.time import day_label as day_label
from trackwell.monitor.findings import Finding
from trackwell.quality.compiled import CompiledPlan
from trackwell.store.base import (
    Browsing,
    DeliveryRollup,
    DeliveryStats,
    PeopleRollup,
    Reports,
    Rollups,
    VolumeRollup,
)

HOUR_MS = 3_600_000
# Read once per evaluation: four weeks of same weekdays, a month plus a week for budgets.
PREFETCH_DAYS = 45


class MonitorStore(Rollups, Browsing, Reports, Protocol):
    """The store's roles the monitors and the audit read: rollups, bounded browsing (queue
    states, a sample of recent messages) and the tools' outcome reports; never the log's writes or the queues' work."""


class Reads:
    """The store's rollup reads, shared by the monitors of one evaluation.

    Every default window of day rows fits in the last PREFETCH_DAYS, so each kind is read once
    for that span and sliced by day; a longer window is read on its own.
    """

    def __init__(self, store: MonitorStore, now_ms: int) -> None:
        self.store = store
        self.now_ms = now_ms
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._spans: dict[str, dict[int, list[Any]]] = {}

    def _cached(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    def _rows(
        self,
        kind: str,
        since: int,
        until: int,
        read: Callable[[int, int], Sequence[Any]],
        day_of: Callable[[Any], int],
    ) -> Any:
        today = self.now_ms // DAY_MS
        first = today - PREFETCH_DAYS
        # Hour rows are many and read for single days: those are read as asked.
        if kind == "hourly" or since < first or until > today:
            return self._cached((kind, since, until), lambda: list(read(since, until)))
        if kind not in self._spans:
            by_day: dict[int, list[Any]] = defaultdict(list)
            for row in read(first, today):
                by_day[day_of(row)].append(row)
            self._spans[kind] = by_day
        span = self._spans[kind]
        return self._cached(
            (kind, since, until),
            lambda: [row for day in range(since, until + 1) for row in span.get(day, ())],
        )

    def daily(self, since: int, until: int) -> list[VolumeRollup]:
        """Whole-day volume rows between two days, inclusive."""
        rows: list[VolumeRollup] = self._rows(
            "daily", since, until, self.store.volume, lambda r: r.day
        )
        return rows

    def hourly(self, since: int, until: int) -> list[VolumeRollup]:
        """Hour volume rows between two days, inclusive (kept for a week)."""

        def read(first: int, last: int) -> list[VolumeRollup]:
            return self.store.volume(first, last, hourly=True)

        rows: list[VolumeRollup] = self._rows("hourly", since, until, read, lambda r: r.day)
        return rows

    def codes(self, since: int, until: int) -> list[tuple[int, str, str, str, int]]:
        """(day, source, name, code, count) rows between two days, inclusive."""
        rows: list[tuple[int, str, str, str, int]] = self._rows(
            "codes", since, until, self.store.violation_counts, lambda r: r[0]
        )
        return rows

    def blocking(self, since: int, until: int) -> list[tuple[int, str, str, str, int]]:
        """(day, source, name, code, blocked messages) rows between two days, inclusive."""
        rows: list[tuple[int, str, str, str, int]] = self._rows(
            "blocking", since, until, self.store.blocking_counts, lambda r: r[0]
        )
        return rows

    def deliveries(self, since: int, until: int) -> list[DeliveryRollup]:
        """Delivery outcome rows (by day of acknowledgement) between two days, inclusive."""
        rows: list[DeliveryRollup] = self._rows(
            "deliveries", since, until, self.store.delivery_rollups, lambda r: r.day
        )
        return rows

    def people(self, since: int, until: int) -> list[PeopleRollup]:
        """New profiles and identify calls per day."""
        rows: list[PeopleRollup] = self._cached(
            ("people", since, until), lambda: self.store.people_rollups(since, until)
        )
        return rows

    def stats(self) -> list[DeliveryStats]:
        """The delivery queues right now."""
        rows: list[DeliveryStats] = self._cached(
            ("stats",), lambda: self.store.delivery_stats(self.now_ms)
        )
        return rows

    def profiles_without_traits(self) -> int:
        """Profiles no identify has given a trait."""
        value: int = self._cached(("bare",), self.store.profiles_without_traits)
        return value


@dataclass
class Context:
    """One monitor's view of one evaluation."""

    reads: Reads
    plan: CompiledPlan
    now_ms: int
    options: Mapping[str, Any] = field(default_factory=dict)  # this monitor's thresholds
    destinations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    base_dir: Path = Path()  # relative paths in the config are relative to the config file
    environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def today(self) -> int:
        """Today, in days since the epoch (UTC)."""
        return self.now_ms // DAY_MS

    @property
    def hour(self) -> int:
        """The current hour of the day, 0-23 (UTC)."""
        return (self.now_ms % DAY_MS) // HOUR_MS

    def option(self, name: str) -> Any:
        """One threshold of this monitor (the runner fills in defaults)."""
        return self.options[name]


@dataclass(frozen=True, slots=True)
class Monitor:
    """A named check over the rollups with default thresholds."""

    name: str
    run: Callable[[Context], list[Finding]]
    defaults: Mapping[str, Any]
    summary: str  # one line for `trackwell monitor --help` and the README
    # Checks the shape of list and table settings up front (raises ConfigError).
    validate: Callable[[Mapping[str, Any]], None] | None = None


def time_label(ms: int) -> str:
    """Milliseconds since the epoch as `2026-03-02 14:00 UTC`."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float) -> str:
    """A span in the largest unit that reads well: `45 s`, `12 min`, `3.5 h`, `4 days`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 36_000:
        return f"{seconds / 3600:.1f} h"
    if seconds < 345_600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
