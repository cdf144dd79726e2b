"""volume_budget: this month's projected events per destination against a configured budget."""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from trackwell.io.config import ConfigError
from trackwell.monitor.context import DAY_MS, Context, Monitor
from trackwell.monitor.findings import Finding, count, percent
from trackwell.plan import naming

# Profile updates and merges are not billed as events by Customer.io or Mixpanel.
NOT_EVENTS = frozenset(["identify", "group", "alias"])
RATE_DAYS = 7


def volume_budget(ctx: Context) -> list[Finding]:
    """Destinations whose month, at the recent daily rate, ends over their budget."""
    budgets: Mapping[str, int] = ctx.option("budgets")
    if not budgets:
        return []
    now = datetime.fromtimestamp(ctx.now_ms / 1000, UTC)
    month_start = ctx.today - (now.day - 1)
    month_days = calendar.monthrange(now.year, now.month)[1]
    rows = ctx.reads.deliveries(min(month_start, ctx.today - RATE_DAYS), ctx.today)
    findings = []
    for destination, budget in sorted(budgets.items()):
        so_far: Counter[str] = Counter()
        recent = 0
        for row in rows:
            if row.destination != destination or row.name in NOT_EVENTS:
                continue
            if row.day >= month_start:
                so_far[row.name] += row.delivered
            if ctx.today - RATE_DAYS <= row.day < ctx.today:
                recent += row.delivered
        elapsed = (ctx.today - month_start) + (ctx.now_ms % DAY_MS) / DAY_MS
        total = sum(so_far.values())
        rate = recent / RATE_DAYS if recent else total / max(elapsed, 1 / 24)
        projected = total + rate * (month_days - elapsed)
        if projected < budget * ctx.option("warn_at"):
            continue
        findings.append(_finding(ctx, destination, budget, total, projected, so_far))
    return findings


def _finding(
    ctx: Context,
    destination: str,
    budget: int,
    total: int,
    projected: float,
    by_event: Counter[str],
) -> Finding:
    top = by_event.most_common(5)
    noisy = [name for name, _ in top if _avoidable(ctx, name)]
    contributors = ", ".join(f"'{n}' {percent(c / total)}" for n, c in top) if total else "none"
    advice = (
        f"{', '.join(repr(n) for n in noisy)} look{'s' if len(noisy) == 1 else ''} like product "
        "analytics rather than messaging: leave them out of this destination "
        f"(`exclude_events` in [destinations.{destination}])."
        if noisy
        else "Leave events no workflow uses out of this destination (`exclude_events`), or raise "
        "the plan's event limit."
    )
    over = total >= budget
    return Finding(
        "volume_budget",
        destination,
        "critical" if over else "warning",
        f"{destination}: {'over' if over else 'on course to exceed'} its monthly budget of "
        f"{count(budget)} events ({count(total)} so far, {count(projected)} projected)",
        f"{destination} has received {count(total)} events this month and, at the last "
        f"{RATE_DAYS} days' rate, will reach {count(projected)} by the month's end against a "
        f"budget of {count(budget)}. Most of it: {contributors}. {advice}",
        projected / budget,
        {"so_far": total, "projected": round(projected), "budget": budget, "top": dict(top)},
    )


def _avoidable(ctx: Context, name: str) -> bool:
    """Raw UI noise, or an event no workflow uses."""
    spec = ctx.plan.plan.events.get(name)
    return naming.ui_noise_word(name) is not None or (spec is not None and not spec.used_by)


def _validate(options: Mapping[str, Any]) -> None:
    budgets = options["budgets"]
    for name, value in budgets.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(
                f"monitors.volume_budget.budgets.{name} must be a positive number of events, got {value!r}"
            )


MONITOR = Monitor(
    "volume_budget",
    volume_budget,
    {"budgets": {}, "warn_at": 1.0},
    "a destination's projected month of events over budgets.NAME (times warn_at)",
    _validate,
)
