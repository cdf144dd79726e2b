"""blocked_rate: a source whose share of blocked messages over the last hours is too high.

The gateway answers a batch with blocked messages 200, as Segment does, and clients do not read
the body: without this monitor a sender whose every message is refused looks healthy.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trackwell.io.config import ConfigError
from trackwell.monitor.context import DAY_MS, HOUR_MS, Context, Monitor
from trackwell.monitor.findings import Finding, Severity, count, percent

# Hour rows are kept a week: a longer window could not be read.
MAX_HOURS = 24 * 7 - 1
SHOWN = 3  # codes and events named in a finding


@dataclass
class SourceWindow:
    """One source's messages in the window: how many arrived, how many were blocked, of what."""

    received: int = 0
    blocked: int = 0
    names: Counter[str] = field(default_factory=Counter)  # blocked messages by event or type

    @property
    def share(self) -> float:
        """Blocked over received (0 without traffic)."""
        return self.blocked / self.received if self.received else 0.0


def window(ctx: Context, hours: int) -> dict[str, SourceWindow]:
    """Per source: the current hour and the `hours - 1` before it (across midnight)."""
    now_hour = ctx.now_ms // HOUR_MS
    first_hour = now_hour - hours + 1
    first_day = first_hour * HOUR_MS // DAY_MS
    found: dict[str, SourceWindow] = defaultdict(SourceWindow)
    for row in ctx.reads.hourly(first_day, ctx.today):
        if not first_hour <= row.day * 24 + row.hour <= now_hour:
            continue
        source = found[row.source]
        source.received += row.received
        source.blocked += row.blocked
        if row.blocked:
            source.names[_label(row.type, row.name)] += row.blocked
    return found


def usual_share(ctx: Context, days: int) -> dict[str, float]:
    """Per source: the blocked share of the `days` whole days before today."""
    received: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    for row in ctx.reads.daily(ctx.today - days, ctx.today - 1):
        received[row.source] += row.received
        blocked[row.source] += row.blocked
    return {source: blocked[source] / n for source, n in received.items() if n}


def blocked_rate(ctx: Context) -> list[Finding]:
    """Sources above `max_share` blocked over the window, with enough traffic to tell."""
    hours = int(ctx.option("hours"))
    floor, threshold = int(ctx.option("min_messages")), float(ctx.option("max_share"))
    usual = usual_share(ctx, int(ctx.option("baseline_days")))
    findings = []
    for name, seen in sorted(window(ctx, hours).items()):
        if seen.received < max(floor, 1) or seen.share <= threshold:
            continue
        findings.append(_finding(ctx, name, seen, usual.get(name), hours))
    return findings


def _codes(ctx: Context, source: str, hours: int) -> Counter[str]:
    """The codes that blocked this source's messages on the days the window touches."""
    first_day = (ctx.now_ms // HOUR_MS - hours + 1) * HOUR_MS // DAY_MS
    codes: Counter[str] = Counter()
    for _day, sender, _name, code, number in ctx.reads.blocking(first_day, ctx.today):
        if sender == source:
            codes[code] += number
    return codes


def _finding(
    ctx: Context, source: str, seen: SourceWindow, usual: float | None, hours: int
) -> Finding:
    severity: Severity = "critical" if seen.share >= ctx.option("critical_share") else "warning"
    span = "this hour" if hours == 1 else f"the last {hours} h"
    title = (
        f"Source '{source}': {percent(seen.share)} of its messages blocked in {span}"
        f" ({count(seen.blocked)} of {count(seen.received)})"
    )
    codes = _codes(ctx, source, hours)
    reasons = ", ".join(f"{code} ×{count(n)}" for code, n in codes.most_common(SHOWN))
    examples = ", ".join(f"{name} ×{count(n)}" for name, n in seen.names.most_common(SHOWN))
    lines = [
        f"{count(seen.blocked)} of the {count(seen.received)} messages source '{source}' sent in"
        f" {span} were blocked: they are kept with their reasons but go to no tool.",
        "The gateway still answered 200 (as Segment does, so one bad message never costs a"
        " batch), so the sender probably believes they were delivered; only the"
        " X-Trackwell-Blocked response header and the response body say otherwise.",
    ]
    if reasons:
        lines.append(f"Blocked for: {reasons}.")
    if examples:
        lines.append(f"Blocked events: {examples}.")
    if usual is not None:
        lines.append(f"Usually {percent(usual)} of this source's messages are blocked.")
    lines.append(
        "What to do: look at the violations (the console's Quality page, or `trackwell why`"
        " for one person), then fix the sender (the event name, a property's type, a missing"
        " id) or the plan (add the event, an alias, or relax the policy) and resend what was"
        f" lost. To make the sender fail loudly while it is being fixed, set `strict = true`"
        f" under [sources.{source}] (or send X-Strict-Mode: 1): blocked requests then get 400."
    )
    numbers: dict[str, Any] = {
        "source": source,
        "received": seen.received,
        "blocked": seen.blocked,
        "share": round(seen.share, 4),
        "usual_share": round(usual, 4) if usual is not None else None,
        "hours": hours,
        "codes": dict(codes.most_common(SHOWN)),
        "events": dict(seen.names.most_common(SHOWN)),
    }
    return Finding("blocked_rate", source, severity, title, " ".join(lines), seen.share, numbers)


def _label(type_: str, name: str) -> str:
    if type_ == "track":
        return f"'{name}'"
    return f"{type_} '{name}'" if name else (type_ if type_ != "unknown" else "not a message")


def validate(options: Mapping[str, Any]) -> None:
    """Shares between 0 and 1, a window of 1 hour to a week."""
    for key in ("max_share", "critical_share"):
        if not 0 <= options[key] <= 1:
            raise ConfigError(f"monitors.blocked_rate.{key} must be between 0 and 1")
    if not 1 <= options["hours"] <= MAX_HOURS:
        raise ConfigError(f"monitors.blocked_rate.hours must be between 1 and {MAX_HOURS}")


MONITOR = Monitor(
    "blocked_rate",
    blocked_rate,
    {
        "max_share": 0.2,
        "critical_share": 0.5,
        "min_messages": 50,
        "hours": 2,
        "baseline_days": 7,
    },
    "a source whose share of blocked messages in the current and previous hour is above"
    " `max_share` (names the codes, the events and its usual share)",
    validate,
)
