"""Chart data from the rollups: daily series, sparklines, latency percentiles, counts by code."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trackwell.core import histogram
from trackwell.store.base import DeliveryRollup, VolumeRollup

DAY_SECONDS = 86_400
DAY_MS = DAY_SECONDS * 1000
SPARK_WIDTH, SPARK_HEIGHT = 120, 24


@dataclass
class Chart:
    """What console.js draws with uPlot: x as Unix seconds, named series, optional band."""

    x: list[int]
    series: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "line"  # "line" or "bars"
    unit: str = ""  # the y axis' unit, for labels ("s", "events")
    band: tuple[int, int] | None = None  # indexes of the lower and upper series to fill between

    def add(self, label: str, values: Sequence[float | None], color: str) -> None:
        """One more series."""
        self.series.append({"label": label, "values": list(values), "color": color})

    def to_dict(self) -> dict[str, Any]:
        """The JSON the page embeds."""
        return {
            "x": self.x,
            "series": self.series,
            "kind": self.kind,
            "unit": self.unit,
            "band": list(self.band) if self.band else None,
        }

    @property
    def empty(self) -> bool:
        """No series has a non-zero point."""
        return not any(v for s in self.series for v in s["values"] if v)


PALETTE = ("#2f6fde", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d")


def days(since: int, until: int) -> list[int]:
    """Every day between two days, inclusive."""
    return list(range(since, until + 1))


def x_axis(day_list: Sequence[int]) -> list[int]:
    """Days since the epoch as Unix seconds (uPlot's time axis)."""
    return [d * DAY_SECONDS for d in day_list]


@dataclass
class Tally:
    """Counts of one name over a window."""

    received: int = 0
    accepted: int = 0
    repaired: int = 0
    blocked: int = 0
    by_day: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    last_day: int | None = None

    def add(self, row: VolumeRollup) -> None:
        """Count one rollup row."""
        self.received += row.received
        self.accepted += row.accepted
        self.repaired += row.repaired
        self.blocked += row.blocked
        self.by_day[row.day] += row.received
        if row.received and (self.last_day is None or row.day > self.last_day):
            self.last_day = row.day

    def share(self, part: int) -> float:
        """`part` as a fraction of what was received (0 when nothing was)."""
        return part / self.received if self.received else 0.0


def tallies(rows: Iterable[VolumeRollup], type_: str = "track") -> dict[str, Tally]:
    """Per name of one message type: totals, per-day counts and the last day seen."""
    found: dict[str, Tally] = defaultdict(Tally)
    for row in rows:
        if row.type == type_:
            found[row.name].add(row)
    return dict(found)


def sparkline(by_day: dict[int, int], day_list: Sequence[int]) -> str:
    """SVG polyline points for a per-day count, scaled into the sparkline's box."""
    values = [by_day.get(d, 0) for d in day_list]
    top = max(values, default=0) or 1
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 1 - (v / top) * (SPARK_HEIGHT - 2):.1f}"
        for i, v in enumerate(values)
    )


def event_volume(rows: Iterable[VolumeRollup], name: str, since: int, until: int) -> Chart:
    """One event's daily accepted, repaired and blocked counts, stacked as bars."""
    day_list = days(since, until)
    counts: dict[str, dict[int, int]] = {k: defaultdict(int) for k in ("acc", "rep", "blk")}
    for row in rows:
        if row.name == name and row.type == "track":
            counts["acc"][row.day] += row.accepted
            counts["rep"][row.day] += row.repaired
            counts["blk"][row.day] += row.blocked
    chart = Chart(x_axis(day_list), kind="bars", unit="events")
    chart.add("accepted", [counts["acc"][d] for d in day_list], "#2b8a3e")
    chart.add("repaired", [counts["rep"][d] for d in day_list], "#e67700")
    chart.add("blocked", [counts["blk"][d] for d in day_list], "#c92a2a")
    return chart


def event_volume_hourly(rows: Iterable[VolumeRollup], name: str, hours: Sequence[int]) -> Chart:
    """One event's hourly accepted, repaired and blocked counts (hours since the epoch), as bars;
    `rows` are hour rows (`volume(..., hourly=True)`)."""
    counts: dict[str, dict[int, int]] = {k: defaultdict(int) for k in ("acc", "rep", "blk")}
    for row in rows:
        if row.name == name and row.type == "track" and row.hour >= 0:
            at = row.day * 24 + row.hour
            counts["acc"][at] += row.accepted
            counts["rep"][at] += row.repaired
            counts["blk"][at] += row.blocked
    chart = Chart([h * 3600 for h in hours], kind="bars", unit="events")
    chart.add("accepted", [counts["acc"][h] for h in hours], "#2b8a3e")
    chart.add("repaired", [counts["rep"][h] for h in hours], "#e67700")
    chart.add("blocked", [counts["blk"][h] for h in hours], "#c92a2a")
    return chart


def codes_over_time(
    rows: Iterable[tuple[int, str, str, str, int]],
    since: int,
    until: int,
    *,
    event: str | None = None,
    source: str | None = None,
    code: str | None = None,
    top: int = 8,
) -> tuple[Chart, dict[str, int], list[str]]:
    """Per code daily counts (the `top` busiest codes), totals by code, and the sources seen."""
    day_list = days(since, until)
    per_code: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    sources: set[str] = set()
    for day, row_source, name, row_code, number in rows:
        sources.add(row_source)
        if (event and name != event) or (source and row_source != source):
            continue
        if code and row_code != code:
            continue
        per_code[row_code][day] += number
        totals[row_code] += number
    chart = Chart(x_axis(day_list), unit="messages")
    busiest = sorted(totals, key=lambda c: (-totals[c], c))[:top]
    for index, name in enumerate(busiest):
        chart.add(name, [per_code[name].get(d, 0) for d in day_list], PALETTE[index % len(PALETTE)])
    ordered = dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
    return chart, ordered, sorted(sources)


def latency(
    rows: Iterable[DeliveryRollup], destination: str, since: int, until: int
) -> tuple[Chart, dict[str, float | None]]:
    """p50 and p95 seconds from arrival to acknowledgement per day, and over the whole window."""
    day_list = days(since, until)
    per_day: dict[int, list[int]] = {}
    whole = histogram.empty()
    for row in rows:
        if row.destination != destination:
            continue
        merged = per_day.setdefault(row.day, histogram.empty())
        histogram.merge(merged, row.received_latency)
        histogram.merge(whole, row.received_latency)
    chart = Chart(x_axis(day_list), unit="s")
    p50 = [histogram.percentile(per_day[d], 0.5) if d in per_day else None for d in day_list]
    p95 = [histogram.percentile(per_day[d], 0.95) if d in per_day else None for d in day_list]
    chart.add("p50", p50, "#2f6fde")
    chart.add("p95", p95, "#d9480f")
    return chart, {
        "p50": histogram.percentile(whole, 0.5),
        "p95": histogram.percentile(whole, 0.95),
    }


def parity(
    volume_rows: Iterable[VolumeRollup],
    delivery_rows: Iterable[DeliveryRollup],
    destination: str,
    event: str,
    since: int,
    until: int,
    threshold: float,
) -> Chart:
    """One event's accepted and delivered counts per day, with the threshold band around accepted."""
    day_list = days(since, until)
    accepted: dict[int, int] = defaultdict(int)
    delivered: dict[int, int] = defaultdict(int)
    for row in volume_rows:
        if row.type == "track" and row.name == event:
            accepted[row.day] += row.accepted + row.repaired
    for d in delivery_rows:
        if d.destination == destination and d.name == event:
            delivered[d.day] += d.delivered
    chart = Chart(x_axis(day_list), unit="events")
    chart.add(
        f"-{threshold:.0%}", [round(accepted[d] * (1 - threshold), 1) for d in day_list], "#adb5bd"
    )
    chart.add(
        f"+{threshold:.0%}", [round(accepted[d] * (1 + threshold), 1) for d in day_list], "#adb5bd"
    )
    chart.add("accepted", [accepted[d] for d in day_list], "#2b8a3e")
    chart.add(destination, [delivered[d] for d in day_list], "#2f6fde")
    chart.band = (0, 1)
    return chart
