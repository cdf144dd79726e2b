"""parity: the same events counted in two places differ by more than the threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trackwell.io.config import ConfigError
from trackwell.monitor.context import Context, Monitor, day_label
from trackwell.monitor.counts import (
    Counting,
    Parity,
    Side,
    accepted_counts,
    compare,
    destination_filter,
)
from trackwell.monitor.external import ExternalError
from trackwell.monitor.findings import Finding, Severity, count, percent

# How far before the window a destination must already have been delivering.
WARM_UP_DAYS = 7


def parity(ctx: Context) -> list[Finding]:
    """Accepted vs delivered per destination, configured pairs, and external counts."""
    until = ctx.today - 1  # whole days only: today is still arriving
    since = ctx.today - int(ctx.option("days"))
    findings = []
    for destination in _active_destinations(ctx, since, until):
        findings.extend(_accepted_vs_delivered(ctx, destination, since, until))
    for first, second in ctx.option("pairs"):
        findings.extend(_compare(ctx, Side("destination", first), Side("destination", second)))
    if ctx.option("csv"):
        against = _side_named(ctx.option("csv_against"))
        findings.extend(_compare(ctx, Side("csv", ctx.option("csv")), against))
    if ctx.option("mixpanel_export"):
        name = ctx.option("mixpanel_export")
        findings.extend(_compare(ctx, Side("mixpanel", name), Side("destination", name)))
    return findings


def _side_named(text: str) -> Side:
    return Side("accepted") if text in ("accepted", "trackwell") else Side("destination", text)


def _active_destinations(ctx: Context, since: int, until: int) -> list[str]:
    """Destinations that were already delivering before the window (a new one starts mid-way)."""
    first: dict[str, int] = {}
    for row in ctx.reads.deliveries(since - WARM_UP_DAYS, until):
        first[row.destination] = min(first.get(row.destination, row.day), row.day)
    return sorted(name for name, day in first.items() if day < since)


def taken_events(ctx: Context, destination: str, since: int, until: int) -> set[str]:
    """Track events the destination takes: by its configured filter, else what it delivered."""
    table = ctx.destinations.get(destination)
    if table is None:
        return {
            r.name
            for r in ctx.reads.deliveries(since, until)
            if r.destination == destination and r.delivered + r.dead + r.captured + r.no_consent
        }
    flt = destination_filter(table)
    arrived = {r.name for r in ctx.reads.daily(since, until) if r.type == "track"}
    return {name for name in arrived if flt.accepts("track", name)}


def _accepted_vs_delivered(ctx: Context, destination: str, since: int, until: int) -> list[Finding]:
    events = taken_events(ctx, destination, since, until)
    accepted = accepted_counts(ctx.reads, events, since, until)
    delivered: dict[str, int] = {}
    dead: dict[str, int] = {}
    captured: dict[str, int] = {}  # recorded in capture mode: never reached the tool
    for row in ctx.reads.deliveries(since, until):
        if row.destination == destination and row.name in events:
            # A message the person did not consent to was meant not to arrive: it is accounted
            # for, not missing (counted apart in the rollups, shown by `trackwell deliveries`).
            delivered[row.name] = delivered.get(row.name, 0) + row.delivered + row.no_consent
            dead[row.name] = dead.get(row.name, 0) + row.dead
            captured[row.name] = captured.get(row.name, 0) + row.captured
    rows = compare(accepted, {(0, k): v for k, v in delivered.items()}, events)
    # Only fewer delivered is a problem: more is a replay, which the ids keep idempotent.
    bad = [p for p in _diverging(ctx, rows) if p.b < p.a]
    if not bad:
        return []
    worst = max(p.divergence for p in bad)
    details = "; ".join(
        f"'{p.event}' {count(p.b)} of {count(p.a)} ({percent(p.divergence)} fewer"
        + (f", {count(dead[p.event])} dead" if dead.get(p.event) else "")
        + (f", {count(captured[p.event])} captured, not sent" if captured.get(p.event) else "")
        + ")"
        for p in bad[:5]
    )
    return [
        Finding(
            "parity",
            f"accepted:{destination}",
            _severity(ctx, worst),
            f"{destination} got {percent(worst)} fewer events than trackwell accepted "
            f"({len(bad)} event{'s' if len(bad) > 1 else ''}, {_window(since, until)})",
            f"Over {_window(since, until)} (UTC), {destination} acknowledged fewer events than "
            f"trackwell accepted for it: {details}. Dead letters and a queue that fell behind "
            "explain part of it (`trackwell deliveries`); the rest never reached the tool. "
            f'Day by day: `trackwell parity --event "{bad[0].event}" --days '
            f"{until - since + 1} --a accepted --b {destination}`.",
            worst,
            {"events": {p.event: {"accepted": p.a, "delivered": p.b} for p in bad}},
        )
    ]


def _compare(ctx: Context, a: Side, b: Side) -> list[Finding]:
    """Two sides over the window, both ways; one finding for every event that diverges."""
    until, since = ctx.today - 1, ctx.today - int(ctx.option("days"))
    counting = Counting(ctx.reads, ctx.destinations, ctx.environ, ctx.base_dir)
    events = _common_events(ctx, a, b, since, until)
    try:
        rows = compare(
            counting.counts(a, events, since, until),
            counting.counts(b, events, since, until),
            events,
        )
    except ExternalError as exc:
        return [_unreadable(a, b, str(exc))]
    bad = _diverging(ctx, rows)
    if not bad:
        return []
    worst = max(p.divergence for p in bad)
    details = "; ".join(
        f"'{p.event}' {count(p.a)} vs {count(p.b)} ({percent(p.divergence)})" for p in bad[:5]
    )
    return [
        Finding(
            "parity",
            f"{a.kind}:{a.name}|{b.kind}:{b.name}",
            _severity(ctx, worst),
            f"{a.label} and {b.label} differ by {percent(worst)} "
            f"({len(bad)} event{'s' if len(bad) > 1 else ''}, {_window(since, until)})",
            f"Over {_window(since, until)} (UTC), {a.label} vs {b.label}: {details}. A tool that "
            "acknowledged events and counts fewer is dropping them after ingestion (quotas, "
            "data filters, a wrong project, identity merges); one that counts more gets events "
            "from elsewhere too. Day by day: `trackwell parity --event "
            f'"{bad[0].event}" --days {until - since + 1}` with these two sides.',
            worst,
            {"events": {p.event: {"a": p.a, "b": p.b} for p in bad}},
        )
    ]


def _common_events(ctx: Context, a: Side, b: Side, since: int, until: int) -> set[str]:
    events = {r.name for r in ctx.reads.daily(since, until) if r.type == "track"}
    for side in (a, b):
        if side.kind in ("destination", "mixpanel"):
            events &= taken_events(ctx, side.name, since, until)
    return events


def _diverging(ctx: Context, rows: list[Parity]) -> list[Parity]:
    threshold, minimum = ctx.option("threshold"), ctx.option("min_events")
    found = [p for p in rows if max(p.a, p.b) >= minimum and p.divergence > threshold]
    return sorted(found, key=lambda p: (-p.divergence, p.event))


def _severity(ctx: Context, divergence: float) -> Severity:
    return "critical" if divergence >= 5 * ctx.option("threshold") else "warning"


def _unreadable(a: Side, b: Side, error: str) -> Finding:
    return Finding(
        "parity",
        f"{a.kind}:{a.name}|{b.kind}:{b.name}",
        "warning",
        f"Cannot compare {a.label} with {b.label}",
        f"The external counts could not be read: {error}. Fix the file or the credentials, "
        "or remove the setting from [monitors.parity].",
        0.0,
        {"error": error},
    )


def _window(since: int, until: int) -> str:
    return f"{day_label(since)} to {day_label(until)}"


def _validate(options: Mapping[str, Any]) -> None:
    pairs = options["pairs"]
    if not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
    ):
        raise ConfigError(
            'monitors.parity.pairs must list pairs of destinations: [["customerio", "mixpanel"]]'
        )


MONITOR = Monitor(
    "parity",
    parity,
    {
        "threshold": 0.05,
        "days": 7,
        "min_events": 100,
        "pairs": [],
        "csv": "",
        "csv_against": "accepted",
        "mixpanel_export": "",
    },
    "the same events counted in two places differ by more than threshold over whole days",
    _validate,
)
