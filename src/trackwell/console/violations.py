"""Violations: a live feed of messages with violations, and counts by code over time."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from trackwell.console import series
from trackwell.console.context import Console, console
from trackwell.console.paging import Window
from trackwell.console.templating import json_response
from trackwell.core.violations import CODES

COUNT_DAYS = 30
FEED_SIZE = 100
# The store reads violations from a window of the newest rows; past this, filters narrow it.
FEED_CAP = 1000
FEED_PARTS = ("feed",)


def filters(request: Request) -> dict[str, str | None]:
    """The feed's filters; an unknown code is ignored rather than matched against stored text."""
    params = request.query_params
    code = params.get("code") or None
    return {
        "code": code if code in CODES else None,
        "event": (params.get("event") or "").strip()[:200] or None,
        "source": (params.get("source") or "").strip()[:200] or None,
    }


def violations_view(
    c: Console, chosen: dict[str, str | None], window: Window | None = None
) -> dict[str, Any]:
    """The feed (newest first, `window` long) and the per-code counts behind the chart."""
    window = window or Window(FEED_SIZE, FEED_CAP)
    today = c.today()
    since = today - COUNT_DAYS + 1
    rows = c.store.violation_counts(since, today)
    chart, totals, sources = series.codes_over_time(
        rows, since, today, event=chosen["event"], source=chosen["source"], code=chosen["code"]
    )
    feed = c.store.stored_violations(code=chosen["code"], event=chosen["event"], limit=window.limit)
    events = sorted({name for _d, _s, name, _c, _n in rows if name} | set(c.plans.plan().events))
    return {
        "filters": chosen,
        "codes": sorted(CODES),
        "descriptions": CODES,
        "events": events,
        "sources": sources,
        "days": COUNT_DAYS,
        "totals": totals,
        "chart": chart.to_dict(),
        "feed": [
            {
                "received_ms": m.received_ms,
                "label": m.label,
                "message_id": m.message.get("messageId"),
                "type": m.message.get("type"),
                "person": m.person,
                "verdict": m.verdict,
                "violations": m.violations,
            }
            for m in feed
        ],
        "page": window.describe(len(feed)),
    }


def violations_page(request: Request) -> Response:
    """The feed (refreshed live) and the chart."""
    c = console(request)
    view = violations_view(c, filters(request), Window.of(request, FEED_SIZE, FEED_CAP))
    return c.renderer.page(request, "violations.html", view=view, parts=FEED_PARTS)


def api_violations(request: Request) -> Response:
    """JSON: the feed and counts by code."""
    window = Window.of(request, FEED_SIZE, FEED_CAP)
    return json_response(violations_view(console(request), filters(request), window))
