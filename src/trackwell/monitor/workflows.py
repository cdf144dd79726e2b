"""workflow_not_triggering: an event that feeds a Customer.io workflow, reaching Customer.io, while
Customer.io triggers a journey for none (or too few) of the people who send it.

The plan's `used_by` names the workflows an event feeds; Customer.io's reporting webhooks name
the event that triggered each message they report (`trigger_event_id`, tied back to trackwell's
message by the store). Over the last `hours`, less the last `grace_minutes` (a journey needs a
moment to send its first message), the people who sent the event are compared with those a
report names as triggered by it. A workflow mapped to campaigns in `[workflows]` counts only its
campaigns' reports; an unmapped one counts any.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from trackwell.io.config import ConfigError
from trackwell.monitor.context import HOUR_MS, Context, Monitor
from trackwell.monitor.findings import Finding, count, percent
from trackwell.store.base import EventOutcomes

# Without any Customer.io report in this many days, reporting is not set up: nothing is said.
REPORTING_DAYS = 30
DAY_MS = 24 * HOUR_MS
# `event_outcomes` reads the log's rows of the window: its answer is kept for `every_minutes`,
# so the monitor loop does not scan a day of the log every minute.
_CACHE: OrderedDict[tuple[int, str, str, int, int], EventOutcomes] = OrderedDict()
_CACHE_SIZE = 256


def workflow_not_triggering(ctx: Context) -> list[Finding]:
    """Per event with `used_by` workflows that Customer.io received: triggered share too low."""
    store = ctx.reads.store
    now = ctx.now_ms
    if not store.report_counts(now - REPORTING_DAYS * DAY_MS, now + 1, source="customerio"):
        return []
    step = max(int(ctx.option("every_minutes")), 1) * 60_000
    until = (now - int(ctx.option("grace_minutes")) * 60_000) // step * step
    since = until - int(ctx.option("hours")) * HOUR_MS
    delivered = _delivered_to_customerio(ctx, since // DAY_MS, until // DAY_MS)
    campaigns = {w: tuple(str(i) for i in ids) for w, ids in ctx.option("campaigns").items()}
    findings = []
    for event, spec in sorted(ctx.plan.plan.events.items()):
        if not spec.used_by or event not in delivered:
            continue
        outcomes = _outcomes(ctx, event, since, until)
        if outcomes.senders < ctx.option("min_people"):
            continue
        for workflow in spec.used_by:
            ids = campaigns.get(workflow, ())
            triggered = (
                max((outcomes.campaigns.get(i, 0) for i in ids), default=0)
                if ids
                else outcomes.triggered
            )
            share = min(triggered / outcomes.senders, 1.0)
            if share > ctx.option("max_share"):
                continue
            findings.append(_finding(ctx, event, workflow, ids, outcomes, triggered, share))
    return findings


def _delivered_to_customerio(ctx: Context, since_day: int, until_day: int) -> set[str]:
    """Events a Customer.io destination acknowledged in the window's days (by the rollups)."""
    named = {n for n, t in ctx.destinations.items() if t.get("type") == "customerio"}
    if "customerio" not in ctx.destinations:
        named.add("customerio")  # the usual name, when it is not configured as something else
    return {
        r.name
        for r in ctx.reads.deliveries(since_day, until_day)
        if r.destination in named and r.delivered
    }


def _outcomes(ctx: Context, event: str, since: int, until: int) -> EventOutcomes:
    """The store's outcomes of `event` over the window, kept for later rounds of the same one."""
    store = ctx.reads.store
    # The url too: a store opened after another was closed may get the same id.
    key = (id(store), str(getattr(store, "url", "")), event, since, until)
    found = _CACHE.get(key)
    if found is None:
        found = store.event_outcomes(event, since, until)
        _CACHE[key] = found
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return found


def _finding(
    ctx: Context,
    event: str,
    workflow: str,
    ids: tuple[str, ...],
    outcomes: EventOutcomes,
    triggered: int,
    share: float,
) -> Finding:
    """One event and workflow whose journeys do not start, in words an on-call engineer acts on."""
    hours = int(ctx.option("hours"))
    people = count(outcomes.senders)
    which = f"campaign {', '.join(ids)}" if ids else "a journey"
    title = (
        f"'{event}' feeds '{workflow}': Customer.io triggered {which} for {count(triggered)} "
        f"of the last {people} people who sent it"
    )
    mapping = (
        ""
        if ids
        else f" Map '{workflow}' to its campaign in trackwell.toml ([workflows] "
        f'"{workflow}" = {{ customerio_campaign_id = ... }}) to count its journeys alone.'
    )
    explanation = (
        f"Over the last {hours} h (less the last {ctx.option('grace_minutes')} minutes), "
        f"{people} people sent '{event}', which Customer.io received, and its reports name "
        f"the event as the trigger of {which} for {count(triggered)} of them "
        f"({percent(share)}). The events arrive, so look at the workflow's own conditions in "
        "Customer.io: is it active, does its trigger name this event (and its property "
        "filters match what is sent), do its frequency and the people's attributes or "
        f'segments let them in. One person: `trackwell why USER --workflow "{workflow}"`.' + mapping
    )
    return Finding(
        "workflow_not_triggering",
        f"{event}|{workflow}",
        "critical" if triggered == 0 else "warning",
        title,
        explanation,
        1.0 - share,
        {
            "event": event,
            "workflow": workflow,
            "campaigns": list(ids),
            "senders": outcomes.senders,
            "triggered": triggered,
            "share": round(share, 3),
            "metrics": outcomes.metrics,
        },
    )


def _validate(options: Mapping[str, Any]) -> None:
    """`campaigns` maps workflow names to Customer.io campaign ids (from `[workflows]`)."""
    if options["min_people"] == 0 or options["hours"] == 0:
        raise ConfigError(
            "monitors.workflow_not_triggering: hours and min_people must be 1 or more"
        )
    campaigns = options["campaigns"]
    if not all(
        isinstance(ids, list) and all(isinstance(i, int | str) for i in ids)
        for ids in campaigns.values()
    ):
        raise ConfigError(
            "monitors.workflow_not_triggering.campaigns must map workflows to lists of campaign"
            ' ids: { "Paid welcome" = [12] } (or use [workflows])'
        )


MONITOR = Monitor(
    "workflow_not_triggering",
    workflow_not_triggering,
    {
        "hours": 24,
        "grace_minutes": 30,
        "min_people": 10,
        "max_share": 0.0,
        "every_minutes": 10,
        "campaigns": {},
    },
    "an event that feeds a workflow (plan used_by) reaching Customer.io while its reports show "
    "a journey triggered for at most max_share of the people who sent it",
    _validate,
)
