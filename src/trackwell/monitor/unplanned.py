"""new_unplanned_name: an event name outside the plan arriving, with the name it probably meant."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from trackwell.monitor.context import Context, Monitor, day_label
from trackwell.monitor.findings import Finding, count


@dataclass
class Arrivals:
    """One unplanned name: when it was first seen, and how much came in the last 24 hours."""

    name: str
    first_day: int
    last_day: int = 0
    recent: int = 0  # received in the last 24 hours
    first_hour_today: int | None = None
    sources: Counter[str] = field(default_factory=Counter)


def unplanned_names(ctx: Context, lookback_days: int) -> dict[str, Arrivals]:
    """Unplanned event names seen in the lookback window that the plan still does not know."""
    today, plan = ctx.today, ctx.plan
    found: dict[str, Arrivals] = {}
    for day, source, name, code, number in ctx.reads.codes(today - lookback_days, today):
        if code != "unplanned_event" or name in plan.events or name in plan.aliases:
            continue
        arrivals = found.setdefault(name, Arrivals(name, day))
        arrivals.first_day = min(arrivals.first_day, day)
        arrivals.last_day = max(arrivals.last_day, day)
        arrivals.sources[source] += number
    hours: dict[str, list[int]] = defaultdict(list)
    for row in (*ctx.reads.hourly(today - 1, today - 1), *ctx.reads.hourly(today, today)):
        hit = found.get(row.name) if row.type == "track" else None
        if hit is None or row.received == 0:
            continue
        if row.day == today or (row.day == today - 1 and row.hour > ctx.hour):
            hit.recent += row.received
        if row.day == today:
            hours[row.name].append(row.hour)
    for name, seen in hours.items():
        found[name].first_hour_today = min(seen)
    return found


def new_unplanned_name(ctx: Context) -> list[Finding]:
    """Unplanned names that arrived in the last 24 hours."""
    findings = []
    for arrivals in unplanned_names(ctx, int(ctx.option("lookback_days"))).values():
        meant = ctx.plan.suggest_event(arrivals.name)
        # A near miss of a planned name is a bug at any volume; other names need a few events.
        needed = 1 if meant else ctx.option("min_events")
        if arrivals.recent >= needed:
            findings.append(_finding(ctx, arrivals, meant))
    return findings


def _finding(ctx: Context, arrivals: Arrivals, meant: str | None) -> Finding:
    plan = ctx.plan.plan
    workflows = plan.events[meant].used_by if meant else ()
    if arrivals.first_day == ctx.today and arrivals.first_hour_today is not None:
        since = f"since {arrivals.first_hour_today:02d}:00 UTC"
    else:
        since = f"in the last 24 h (first seen {day_label(arrivals.first_day)})"
    title = f"Unplanned event '{arrivals.name}': {count(arrivals.recent)} {since}"
    if meant:
        title += f", probably '{meant}'"
    blocked = plan.policy.unplanned_event == "block"
    what = (
        "trackwell blocked them (policy unplanned_event: block); they are kept with their "
        "violations, not delivered"
        if blocked
        else "they were delivered under this name (policy unplanned_event: allow)"
    )
    lines = [f"{count(arrivals.recent)} events named '{arrivals.name}' {since}: {what}."]
    if meant:
        lines.append(
            f"So {'workflows triggered by' if workflows else 'anything built on'} '{meant}'"
            + (f" ({', '.join(workflows)})" if workflows else "")
            + " did not get them. Fix the name in the sender, or add it to the plan as an "
            f"alias of '{meant}' (aliases: ['{arrivals.name}']) to rename it at the edge."
        )
    else:
        lines.append(
            "Nothing in the plan is close: add the event to the plan (and to its workflows) "
            "if it is wanted, or remove the tracking call."
        )
    sources = ", ".join(f"{s} ({count(n)})" for s, n in arrivals.sources.most_common(3))
    lines.append(f"Sent by: {sources}.")
    return Finding(
        "new_unplanned_name",
        arrivals.name,
        "critical" if workflows else "warning",
        title,
        " ".join(lines),
        float(arrivals.recent),
        {
            "events_24h": arrivals.recent,
            "first_seen": day_label(arrivals.first_day),
            "probably": meant,
            "sources": dict(arrivals.sources),
        },
    )


MONITOR = Monitor(
    "new_unplanned_name",
    new_unplanned_name,
    {"min_events": 20, "lookback_days": 30},
    "an unplanned event name arriving (any volume when it is a near miss of a planned name)",
)
