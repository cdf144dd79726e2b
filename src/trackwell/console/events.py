"""The event catalog (planned events and unplanned names arriving) and one event's page."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from trackwell.console import series
from trackwell.console.context import Console, console
from trackwell.console.paging import Window
from trackwell.console.templating import iso_ms, json_response
from trackwell.plan.model import PropertySpec
from trackwell.quality.compiled import CompiledPlan
from trackwell.store.base import TimelineEntry

CATALOG_DAYS = 30
EVENT_DAYS = 90
# Rollup day rows are kept for good; "last seen" looks back 13 months, a quarter at a time.
LOOKBACK_DAYS = 396
LOOKBACK_STEP = 90
SAMPLE_SIZE = 500
SHOWN_MESSAGES = 10
SHOWN_CAP = 200
TOP_VALUES = 5
VALUE_CHARS = 60


def _last_seen(c: Console, names: set[str], today: int) -> dict[str, int]:
    """The last day each name arrived, walking back a quarter at a time (most stop at once)."""
    found: dict[str, int] = {}
    until = today
    while names - set(found) and until > today - LOOKBACK_DAYS:
        since = max(until - LOOKBACK_STEP + 1, today - LOOKBACK_DAYS + 1)
        for row in c.store.volume(since, until):
            if row.type == "track" and row.received and row.name in names:
                found[row.name] = max(found.get(row.name, row.day), row.day)
        until = since - 1
    return found


def catalog(c: Console) -> dict[str, Any]:
    """Planned events with volume, sparkline, last seen and shares; unplanned names arriving."""
    compiled = c.plans.compiled()
    plan = compiled.plan
    today = c.today()
    since = today - CATALOG_DAYS + 1
    day_list = series.days(since, today)
    tallies = series.tallies(c.store.volume(since, today))
    quiet = {name for name in plan.events if name not in tallies}
    last_seen = _last_seen(c, quiet, today - CATALOG_DAYS) if quiet else {}
    stage_order = {stage: i for i, stage in enumerate(plan.stages)}
    events: list[dict[str, Any]] = []
    for name, spec in plan.events.items():
        tally = tallies.get(name, series.Tally())
        events.append(
            {
                "name": name,
                "stage": spec.stage,
                "owner": spec.owner,
                "description": spec.description,
                "deprecated": spec.deprecated,
                "used_by": list(spec.used_by),
                "received": tally.received,
                "spark": series.sparkline(tally.by_day, day_list),
                "last_seen_day": tally.last_day
                if tally.last_day is not None
                else last_seen.get(name),
                "blocked_share": tally.share(tally.blocked),
                "repaired_share": tally.share(tally.repaired),
            }
        )
    events.sort(key=lambda e: (stage_order.get(e["stage"], len(stage_order)), e["name"]))
    return {
        "days": CATALOG_DAYS,
        "events": events,
        "unplanned": unplanned(c, compiled, since, today),
    }


def unplanned(c: Console, compiled: CompiledPlan, since: int, until: int) -> list[dict[str, Any]]:
    """Names outside the plan that arrived, with the planned name the sender probably meant."""
    counts: Counter[str] = Counter()
    sources: dict[str, Counter[str]] = defaultdict(Counter)
    last: dict[str, int] = {}
    for day, source, name, code, number in c.store.violation_counts(since, until):
        if code != "unplanned_event" or name in compiled.events or name in compiled.aliases:
            continue
        counts[name] += number
        sources[name][source] += number
        last[name] = max(last.get(name, day), day)
    return [
        {
            "name": name,
            "count": number,
            "last_seen_day": last[name],
            "probably": compiled.suggest_event(name),
            "sources": dict(sources[name].most_common(3)),
        }
        for name, number in counts.most_common()
    ]


def _shown(value: Any) -> str:
    """A property value as a short label (stored values are already redacted where sensitive)."""
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def properties(
    compiled: CompiledPlan, name: str, sample: list[TimelineEntry]
) -> list[dict[str, Any]]:
    """Per property in a sample of recent messages: how often it is filled, and its top values."""
    event = compiled.events.get(name)
    # An event with versions plans its own properties and each version's (tagged with it).
    specs: dict[str, tuple[PropertySpec, str | None]] = {}
    if event is not None:
        specs.update((p.name, (p, None)) for p in event.spec.properties)
        for version in event.spec.versions:
            for prop in version.properties:
                specs.setdefault(prop.name, (prop, version.label))
    planned = list(specs)
    present: Counter[str] = Counter()
    values: dict[str, Counter[str]] = defaultdict(Counter)
    for stored in sample:
        given = stored.message.get("properties")
        if not isinstance(given, dict):
            continue
        for key, value in given.items():
            if value is None or value == "" or value == [] or value == {}:
                continue
            present[key] += 1
            values[key][_shown(value)] += 1
    rows = []
    for key in [*planned, *sorted(set(present) - set(planned))]:
        spec, tag = specs.get(key, (None, None))
        rows.append(
            {
                "name": key,
                "planned": spec is not None,
                "version": tag,
                "type": spec.type if spec else None,
                "required": spec.required if spec else False,
                "fill": present[key] / len(sample) if sample else None,
                "top": values[key].most_common(TOP_VALUES),
                "distinct_capped": len(values[key]) > TOP_VALUES,
            }
        )
    return rows


VERDICTS = ("accepted", "repaired", "blocked")
# The event page's time ranges: days shown, and whether the chart is hourly (hour rows are kept
# for 7 days) or daily.
RANGES = {"24h": (1, True), "7d": (7, True), "30d": (30, False), "90d": (EVENT_DAYS, False)}
DEFAULT_RANGE = "90d"
HOUR_MS = 3_600_000


def recent(
    c: Console, name: str, sample: list[TimelineEntry], verdict: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest messages of the event whatever their verdict: the log's (accepted, repaired,
    with each destination's outcome) and the blocked ones, which never enter the log."""
    rows: list[dict[str, Any]] = [
        {
            "received_ms": iso_ms(s.message.get("receivedAt")),
            "message_id": s.message.get("messageId"),
            "person": s.message.get("userId") or s.message.get("anonymousId"),
            "verdict": s.verdict,
            "violations": s.violations,
            "deliveries": [
                {"destination": d, **state} for d, state in sorted(s.deliveries.items())
            ],
            "properties": s.message.get("properties") or {},
        }
        for s in sample
        if verdict is None or s.verdict == verdict
    ]
    if verdict in (None, "blocked"):
        rows.extend(
            {
                "received_ms": b.received_ms,
                "message_id": b.message.get("messageId"),
                "person": b.person,
                "verdict": b.verdict,
                "violations": b.violations,
                "deliveries": [],
                "properties": b.message.get("properties") or {},
            }
            for b in c.store.stored_violations(event=name, limit=limit * 5)
            if b.seq is None  # the logged ones with violations are in the sample already
        )
    rows.sort(key=lambda r: r["received_ms"] or 0, reverse=True)
    shown = rows[:limit]
    for row in shown:
        # The sample carries no delivery states; each shown logged message is read whole (a
        # handful of keyed reads), so a dead delivery is not listed as a plain "accepted".
        if row["verdict"] != "blocked" and row["message_id"]:
            stored = c.store.get(str(row["message_id"]))
            if stored is not None:
                row["deliveries"] = [
                    {"destination": d, **state} for d, state in sorted(stored.deliveries.items())
                ]
    return shown


def volume_chart(c: Console, name: str, span: str) -> dict[str, Any]:
    """The event's volume chart over a range: hourly bars up to a week, daily beyond."""
    days, hourly = RANGES[span]
    today = c.today()
    if not hourly:
        since = today - days + 1
        return series.event_volume(c.store.volume(since, today), name, since, today).to_dict()
    now_hour = c.now_ms() // HOUR_MS
    hours = list(range(now_hour - days * 24 + 1, now_hour + 1))
    rows = c.store.volume(hours[0] // 24, today, hourly=True)
    return series.event_volume_hourly(rows, name, hours).to_dict()


def event_view(
    c: Console,
    name: str,
    verdict: str | None = None,
    span: str = DEFAULT_RANGE,
    window: Window | None = None,
) -> dict[str, Any] | None:
    """One event: its plan entry, 90-day chart, property fill rates and recent messages."""
    compiled = c.plans.compiled()
    spec = compiled.plan.events.get(name)
    today = c.today()
    since = today - EVENT_DAYS + 1
    rows = c.store.volume(since, today)
    tally = series.tallies(rows).get(name, series.Tally())
    if spec is None and not tally.received:
        return None
    sample = c.store.sample(limit=SAMPLE_SIZE, type="track", name=name)
    shown = window or Window(SHOWN_MESSAGES, SHOWN_CAP)
    recent_rows = recent(c, name, sample, verdict, shown.limit)
    codes: Counter[str] = Counter()
    for _day, _source, row_name, code, number in c.store.violation_counts(since, today):
        if row_name == name:
            codes[code] += number
    return {
        "name": name,
        "planned": spec is not None,
        "probably": None if spec else compiled.suggest_event(name),
        "stage": spec.stage if spec else None,
        "owner": spec.owner if spec else None,
        "description": spec.description if spec else "",
        "used_by": list(spec.used_by) if spec else [],
        "aliases": list(spec.aliases) if spec else [],
        "versions": [f"{v.label} (retired)" if v.deprecated else v.label for v in spec.versions]
        if spec
        else [],
        "deprecated": spec.deprecated if spec else False,
        "replaced_by": spec.replaced_by if spec else None,
        "days": EVENT_DAYS,
        "received": tally.received,
        "blocked_share": tally.share(tally.blocked),
        "repaired_share": tally.share(tally.repaired),
        "codes": codes.most_common(),
        "chart": volume_chart(c, name, span),
        "range": span,
        "ranges": list(RANGES),
        "hourly": RANGES[span][1],
        "sample_size": len(sample),
        "properties": properties(compiled, name, sample),
        "recent": recent_rows,
        "recent_page": shown.describe(len(recent_rows)),
        "verdict_filter": verdict,
    }


def _verdict(request: Request) -> str | None:
    value = request.query_params.get("verdict")
    return value if value in VERDICTS else None


def _range(request: Request) -> str:
    value = request.query_params.get("range", DEFAULT_RANGE)
    return value if value in RANGES else DEFAULT_RANGE


def events_page(request: Request) -> Response:
    """The catalog."""
    c = console(request)
    return c.renderer.page(request, "events.html", catalog=catalog(c))


def event_page(request: Request) -> Response:
    """One event."""
    c = console(request)
    name = request.path_params["name"]
    window = Window.of(request, SHOWN_MESSAGES, SHOWN_CAP)
    view = event_view(c, name, _verdict(request), _range(request), window)
    if view is None:
        return c.renderer.page(request, "missing.html", 404, what="event", name=name)
    return c.renderer.page(request, "event.html", event=view)


def api_events(request: Request) -> Response:
    """JSON: the catalog."""
    return json_response(catalog(console(request)))


def api_event(request: Request) -> Response:
    """JSON: one event."""
    name = request.path_params["name"]
    window = Window.of(request, SHOWN_MESSAGES, SHOWN_CAP)
    view = event_view(console(request), name, _verdict(request), _range(request), window)
    if view is None:
        return json_response({"code": "not_found", "message": f"no event {name!r}"}, 404)
    return json_response(view)
