"""delivery_lag and dead_letters: the queues to the tools, from the rollups and the live stats."""

from __future__ import annotations

from collections import Counter

from trackwell.core import histogram
from trackwell.monitor.context import Context, Monitor, duration
from trackwell.monitor.findings import Finding, count
from trackwell.store.base import DeliveryStats

CUSTOMERIO_WARNING_SECONDS = 24 * 3600


def delivery_lag(ctx: Context) -> list[Finding]:
    """p95 from acceptance to acknowledgement today above threshold, or an old backlog."""
    return _p95(ctx) + _backlog(ctx)


def _p95(ctx: Context) -> list[Finding]:
    merged: dict[str, list[int]] = {}
    for row in ctx.reads.deliveries(ctx.today, ctx.today):
        histogram.merge(merged.setdefault(row.destination, histogram.empty()), row.received_latency)
    findings = []
    for destination, counts in sorted(merged.items()):
        p95 = histogram.percentile(counts, 0.95)
        if sum(counts) < ctx.option("min_delivered") or p95 is None:
            continue
        if p95 <= ctx.option("p95_seconds"):
            continue
        p50 = histogram.percentile(counts, 0.5) or 0.0
        p99 = histogram.percentile(counts, 0.99) or 0.0
        findings.append(
            Finding(
                "delivery_lag",
                f"{destination}:p95",
                "warning",
                f"{destination}: 95 % of today's events took up to {duration(p95)} to be delivered",
                f"Since 00:00 UTC, {count(sum(counts))} events reached {destination} with p50 "
                f"{duration(p50)}, p95 {duration(p95)}, p99 {duration(p99)} from acceptance to "
                f"acknowledgement (threshold {duration(ctx.option('p95_seconds'))}). Workflows "
                "that wait on these events start late. Look for retries and rate limits "
                "(`trackwell deliveries`: retry, last error) and whether the router keeps up.",
                p95,
                {"p50": p50, "p95": p95, "p99": p99, "delivered": sum(counts)},
            )
        )
    return findings


def _backlog(ctx: Context) -> list[Finding]:
    findings = []
    for stats in ctx.reads.stats():
        age_ms = stats.oldest_pending_ms
        if age_ms is not None and age_ms / 1000 > ctx.option("backlog_seconds"):
            findings.append(_old_backlog(ctx, stats, age_ms / 1000))
    return findings


def _old_backlog(ctx: Context, stats: DeliveryStats, age: float) -> Finding:
    waiting = stats.pending + stats.retry + stats.waiting
    error = f" Last error: {stats.last_error}." if stats.last_error else ""
    kind = ctx.destinations.get(stats.destination, {}).get("type", stats.destination)
    # Customer.io ignores events over 72 hours old for campaign triggers: say so before then.
    late = (
        " Customer.io does not start campaigns from events over 72 hours old: a backlog this "
        "old is close to losing triggers for good."
        if kind == "customerio" and age >= CUSTOMERIO_WARNING_SECONDS
        else ""
    )
    return Finding(
        "delivery_lag",
        f"{stats.destination}:backlog",
        "critical" if age >= ctx.option("critical_backlog_seconds") else "warning",
        f"{stats.destination}: {count(waiting)} messages waiting, the oldest for {duration(age)}",
        f"The oldest message not yet delivered to {stats.destination} arrived {duration(age)} "
        f"ago; {count(stats.pending)} pending, {count(stats.retry)} retrying, "
        f"{count(stats.waiting)} waiting behind a retry.{error} Check that `trackwell route` "
        f"(or serve) is running and what the destination answers.{late}",
        age,
        {
            "oldest_seconds": round(age),
            "pending": stats.pending,
            "retry": stats.retry,
            "waiting": stats.waiting,
        },
    )


def dead_letters(ctx: Context) -> list[Finding]:
    """Messages that died today and still wait for a fix and a replay."""
    today_dead: Counter[str] = Counter()
    by_event: dict[str, Counter[str]] = {}
    for row in ctx.reads.deliveries(ctx.today, ctx.today):
        today_dead[row.destination] += row.dead
        if row.dead:
            by_event.setdefault(row.destination, Counter())[row.name] += row.dead
    findings = []
    for stats in ctx.reads.stats():
        died = today_dead[stats.destination]
        # Old dead letters nobody replays are the audit's business; new ones are news, and a
        # replay (which leaves none waiting) clears the finding.
        if died < ctx.option("min_dead") or stats.dead == 0:
            continue
        findings.append(_dead(ctx, stats, died, by_event.get(stats.destination, Counter())))
    return findings


def _dead(ctx: Context, stats: DeliveryStats, died: int, events: Counter[str]) -> Finding:
    hit = ", ".join(f"'{n}' ({count(c)})" for n, c in events.most_common(3))
    error = f" The last error: {stats.last_error}." if stats.last_error else ""
    return Finding(
        "dead_letters",
        stats.destination,
        "critical" if died >= ctx.option("critical_dead") else "warning",
        f"{stats.destination}: {count(died)} messages died today "
        f"({count(stats.dead)} dead letters waiting)",
        f"{count(died)} messages were refused by {stats.destination} today or ran out of "
        f"retries, and will not be sent again on their own"
        + (f": {hit}" if hit else "")
        + f".{error} Fix the cause (often a payload the tool rejects, or credentials), then "
        f"`trackwell replay --destination {stats.destination} --dead`.",
        float(died),
        {"dead": stats.dead, "dead_today": died},
    )


LAG = Monitor(
    "delivery_lag",
    delivery_lag,
    {
        "p95_seconds": 30.0,
        "min_delivered": 50,
        "backlog_seconds": 300.0,
        "critical_backlog_seconds": 3600.0,
    },
    "p95 acceptance-to-acknowledgement today above p95_seconds, or the oldest pending event older than backlog_seconds",
)
DEAD = Monitor(
    "dead_letters",
    dead_letters,
    {"min_dead": 1, "critical_dead": 100},
    "messages dead today and still waiting for a replay (critical from critical_dead)",
)
