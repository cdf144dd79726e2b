"""timestamp_discipline: events sent without an action time, or stamped with the send time."""

from __future__ import annotations

from dataclasses import dataclass

from trackwell.monitor.context import Context, Monitor
from trackwell.monitor.findings import Finding, count, percent


@dataclass
class Tally:
    """One event's (or one source's) counts over the window."""

    received: int = 0
    passed: int = 0
    missing: int = 0
    queue_time: int = 0


def timestamp_discipline(ctx: Context) -> list[Finding]:
    """Per event: missing action times above a share, or action time = arrival time throughout."""
    events: dict[tuple[str, str], Tally] = {}
    sources: dict[str, Tally] = {}
    for row in ctx.reads.daily(ctx.today - int(ctx.option("days")) + 1, ctx.today):
        if row.type != "track":
            continue
        for tally in (
            events.setdefault((row.source, row.name), Tally()),
            sources.setdefault(row.source, Tally()),
        ):
            tally.received += row.received
            tally.passed += row.accepted + row.repaired
            tally.missing += row.missing_timestamp
            tally.queue_time += row.queue_time
    findings = []
    for (source, name), tally in sorted(events.items()):
        if tally.received < ctx.option("min_events"):
            continue
        missing = tally.missing / tally.received
        if missing > ctx.option("max_missing_share"):
            findings.append(_missing(ctx, source, name, tally, missing))
        elif _stamped_at_send(ctx, tally, sources[source]):
            findings.append(_queue_time(ctx, source, name, tally, sources[source]))
    return findings


def _stamped_at_send(ctx: Context, event: Tally, source: Tally) -> bool:
    """This event's time equals its arrival while the same source's other events' does not."""
    # A sender that calls track at the moment of the action (an in-process SDK, a browser) has
    # every event equal to arrival, so only an event that stands out from its own source counts.
    if event.passed == 0:
        return False
    others_passed = source.passed - event.passed
    if others_passed < ctx.option("min_events"):
        return False
    others = (source.queue_time - event.queue_time) / others_passed
    share = event.queue_time / event.passed
    return bool(share >= ctx.option("queue_share") and others <= ctx.option("source_queue_share"))


def _missing(ctx: Context, source: str, name: str, tally: Tally, share: float) -> Finding:
    return Finding(
        "timestamp_discipline",
        f"missing:{source}:{name}",
        "warning",
        f"'{name}' from {source}: {percent(share)} arrive without an action timestamp",
        f"{count(tally.missing)} of {count(tally.received)} '{name}' events from '{source}' in "
        f"the last {ctx.option('days')} days had no `timestamp`, so the time they reached "
        "trackwell was used. Events that sat in a queue or a retry loop then look recent: "
        "Customer.io's 72-hour trigger window and funnel timings are wrong for them. Send the "
        "time of the action as `timestamp`.",
        share,
        {"missing": tally.missing, "received": tally.received},
    )


def _queue_time(ctx: Context, source: str, name: str, tally: Tally, all_of: Tally) -> Finding:
    share = tally.queue_time / tally.passed
    others = (all_of.queue_time - tally.queue_time) / (all_of.passed - tally.passed)
    return Finding(
        "timestamp_discipline",
        f"queue_time:{source}:{name}",
        "warning",
        f"'{name}' from {source}: {percent(share)} carry the send time, not the action time",
        f"{percent(share)} of '{name}' events from '{source}' in the last {ctx.option('days')} "
        f"days have an action time equal to their arrival, to the second, against "
        f"{percent(others)} of the source's other events: the sender stamps them when it sends "
        "(a job queue, a retry) rather than when the action happened. Pass the action's own "
        "time as `timestamp`.",
        share,
        {"queue_time": tally.queue_time, "passed": tally.passed, "source_share": round(others, 3)},
    )


MONITOR = Monitor(
    "timestamp_discipline",
    timestamp_discipline,
    {
        "days": 7,
        "min_events": 100,
        "max_missing_share": 0.05,
        "queue_share": 0.9,
        "source_queue_share": 0.5,
    },
    "per event and source: missing timestamps above max_missing_share, or send time used as action time",
)
