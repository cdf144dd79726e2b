"""Quality (monitor findings, parity charts, the audit) and the rendered plan."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from trackwell.codegen.markdown import generate_markdown
from trackwell.console import series
from trackwell.console.context import Console, console
from trackwell.console.markup import render_markdown
from trackwell.console.templating import json_response
from trackwell.monitor import evaluate
from trackwell.monitor.audit import audit
from trackwell.monitor.audit_markdown import render_markdown as audit_markdown
from trackwell.monitor.parity import MONITOR as PARITY

PARITY_DAYS = 30
PARITY_EVENTS = 3  # per destination, the busiest events
PARITY_CHARTS = 6
AUDIT_DAYS = 90


def monitor_findings(c: Console) -> dict[str, Any]:
    """The monitors' findings: the gateway's latest round when it runs them, else one run now."""
    latest = c.latest_evaluation() if c.latest_evaluation is not None else None
    if latest is None:
        latest = evaluate(
            c.store,
            c.plans.compiled(),
            now_ms=c.now_ms(),
            options=c.monitor_options,
            destinations=c.destinations,
            base_dir=c.base_dir,
        )
    return latest.to_dict()


def _threshold(options: Mapping[str, Mapping[str, Any]] | None) -> float:
    chosen = (options or {}).get("parity", {})
    return float(chosen.get("threshold", PARITY.defaults["threshold"]))


def parity_charts(c: Console) -> list[dict[str, Any]]:
    """Accepted vs delivered per day for each destination's busiest events, with the band."""
    today = c.today()
    since = today - PARITY_DAYS + 1
    volume = c.store.volume(since, today)
    deliveries = c.store.delivery_rollups(since, today)
    busiest: dict[str, Counter[str]] = {}
    for row in deliveries:
        busiest.setdefault(row.destination, Counter())[row.name] += row.delivered + row.dead
    tracked = {r.name for r in volume if r.type == "track"}
    threshold = _threshold(c.monitor_options)
    charts = []
    for destination, counts in sorted(busiest.items()):
        for event, _ in counts.most_common():
            if event not in tracked:
                continue  # pages and identifies are counted under other names
            chart = series.parity(volume, deliveries, destination, event, since, today, threshold)
            charts.append({"destination": destination, "event": event, "chart": chart.to_dict()})
            if sum(1 for ch in charts if ch["destination"] == destination) >= PARITY_EVENTS:
                break
    return charts[:PARITY_CHARTS]


def audit_html(c: Console) -> str:
    """The schema audit over 90 days (it profiles properties on the store's own sample)."""
    report = audit(c.store, c.plans.compiled(), today=c.today(), days=AUDIT_DAYS)
    return render_markdown(audit_markdown(report))


# Monitors whose findings are about violations: their examples are in the violations feed.
VIOLATION_CODES = {"sensitive_data": "sensitive_data", "new_unplanned_name": "unplanned_event"}


def example_links(
    finding: dict[str, Any], events: set[str], destinations: set[str]
) -> list[dict[str, str]]:
    """Where a finding's examples are: the event's page (its newest messages, blocked ones too),
    the violations feed filtered to it, or the destination's section."""
    pieces = str(finding.get("key", "")).split(":")
    monitor = str(finding.get("monitor", ""))
    links: list[dict[str, str]] = []
    for piece in pieces:
        if piece in destinations:
            links.append({"href": f"/destinations#{quote(piece, safe='')}", "label": piece})
        elif piece in events or (monitor in VIOLATION_CODES and piece == pieces[-1]):
            links.append({"href": f"/events/{quote(piece, safe='')}#recent", "label": piece})
            code = VIOLATION_CODES.get(monitor)
            query = urlencode({"event": piece, **({"code": code} if code else {})})
            links.append({"href": f"/violations?{query}", "label": "its violations"})
    if not links and monitor == "blocked_rate":
        links.append({"href": "/violations", "label": "blocked messages"})
    return links


def quality_view(c: Console) -> dict[str, Any]:
    """Findings, parity charts and the audit, kept for a minute (monitors read 13 months)."""
    plan = c.plans.plan()

    def make() -> dict[str, Any]:
        return {
            "evaluation": monitor_findings(c),
            "parity": parity_charts(c),
            "threshold": _threshold(c.monitor_options),
            "days": PARITY_DAYS,
            "audit_html": audit_html(c),
        }

    view: dict[str, Any] = c.quality_cache.get((plan, c.today()), make, c.clock())
    compiled = c.plans.compiled()
    events = set(compiled.plan.events) | set(compiled.aliases)
    names = {q.destination for q in c.store.delivery_stats(c.now_ms())}
    links = [example_links(f, events, names) for f in view["evaluation"].get("findings", [])]
    return {**view, "examples": links}


def quality_page(request: Request) -> Response:
    """The quality page."""
    c = console(request)
    return c.renderer.page(request, "quality.html", view=quality_view(c))


def api_quality(request: Request) -> Response:
    """JSON: the findings and parity series (the audit is on the page)."""
    view = quality_view(console(request))
    return json_response({k: v for k, v in view.items() if k != "audit_html"})


def plan_page(request: Request) -> Response:
    """The tracking plan rendered as the Markdown document codegen writes, and its version."""
    c = console(request)
    plan = c.plans.plan()
    html: str = c.plan_cache.get(plan, lambda: render_markdown(generate_markdown(plan)), 0.0)
    return c.renderer.page(request, "plan.html", plan=plan, plan_html=html)
