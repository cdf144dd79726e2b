"""Counts of one event in two places over the same days: trackwell, a destination, or outside."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trackwell.core.delivery import DeliveryFilter
from trackwell.monitor.context import Reads
from trackwell.monitor.external import DailyCounts, MixpanelExport, read_csv

SideKind = Literal["accepted", "destination", "csv", "mixpanel"]


@dataclass(frozen=True, slots=True)
class Side:
    """One place events are counted in."""

    kind: SideKind
    name: str = ""  # the destination, or the CSV path

    @property
    def label(self) -> str:
        """How the side reads in a report."""
        return {
            "accepted": "trackwell (accepted)",
            "destination": self.name,
            "csv": f"CSV {self.name}",
            "mixpanel": f"Mixpanel export ({self.name})",
        }[self.kind]


def parse_side(text: str) -> Side:
    """`accepted`, a destination name, `csv:FILE`, or `mixpanel-export:DESTINATION`."""
    text = text.strip()
    if text in ("accepted", "trackwell"):
        return Side("accepted")
    if text.startswith("csv:"):
        return Side("csv", text[4:])
    if text.startswith("mixpanel-export:"):
        return Side("mixpanel", text[len("mixpanel-export:") :])
    if not text:
        raise ValueError(
            "an empty side: give accepted, a destination, csv:FILE or mixpanel-export:DEST"
        )
    return Side("destination", text)


@dataclass(frozen=True, slots=True)
class Parity:
    """One event's totals on both sides."""

    event: str
    a: int
    b: int

    @property
    def divergence(self) -> float:
        """|a - b| as a share of the larger count (0 when both are 0)."""
        larger = max(self.a, self.b)
        return abs(self.a - self.b) / larger if larger else 0.0


@dataclass
class Counting:
    """Where sides read their counts from; external clients are made on first use."""

    reads: Reads
    destinations: Mapping[str, Mapping[str, Any]]
    environ: Mapping[str, str]
    base_dir: Path = Path()

    def counts(self, side: Side, events: Collection[str], since: int, until: int) -> DailyCounts:
        """Per (day, event) counts of `events` on one side, between two days inclusive."""
        if side.kind == "accepted":
            return accepted_counts(self.reads, events, since, until)
        if side.kind == "destination":
            return delivered_counts(self.reads, side.name, events, since, until)
        if side.kind == "csv":
            path = Path(side.name)
            found = read_csv(path if path.is_absolute() else self.base_dir / path)
            return {k: v for k, v in found.items() if k[1] in events and since <= k[0] <= until}
        table = self.destinations.get(side.name, {"type": "mixpanel"})
        client = MixpanelExport.for_destination(side.name, table, self.environ)
        try:
            return client.daily_counts(events, since, until)
        finally:
            client.close()


def accepted_counts(reads: Reads, events: Collection[str], since: int, until: int) -> DailyCounts:
    """Track events accepted or repaired (what went on to the tools), by day received."""
    counts: Counter[tuple[int, str]] = Counter()
    for row in reads.daily(since, until):
        if row.type == "track" and row.name in events:
            counts[(row.day, row.name)] += row.accepted + row.repaired
    return dict(counts)


def delivered_counts(
    reads: Reads, destination: str, events: Collection[str], since: int, until: int
) -> DailyCounts:
    """Events a destination acknowledged, by day acknowledged."""
    counts: Counter[tuple[int, str]] = Counter()
    for row in reads.deliveries(since, until):
        if row.destination == destination and row.name in events:
            counts[(row.day, row.name)] += row.delivered
    return dict(counts)


def compare(a: DailyCounts, b: DailyCounts, events: Collection[str]) -> list[Parity]:
    """Per event totals of both sides, largest first."""
    total_a: Counter[str] = Counter()
    total_b: Counter[str] = Counter()
    for (_, event), value in a.items():
        total_a[event] += value
    for (_, event), value in b.items():
        total_b[event] += value
    rows = [Parity(e, total_a[e], total_b[e]) for e in events if total_a[e] or total_b[e]]
    return sorted(rows, key=lambda p: (-max(p.a, p.b), p.event))


def destination_filter(table: Mapping[str, Any]) -> DeliveryFilter:
    """What a `[destinations.NAME]` table says the destination takes."""

    def names(key: str) -> frozenset[str] | None:
        value = table.get(key)
        return frozenset(str(v) for v in value) if isinstance(value, list) else None

    return DeliveryFilter(
        types=names("types"),
        events=names("events"),
        exclude_events=names("exclude_events") or frozenset(),
    )
