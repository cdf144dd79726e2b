"""Destinations: queue states, latency over time, last errors, and dead letters to replay."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trackwell.console import series
from trackwell.console.audit import record, session_actor
from trackwell.console.context import Console, console
from trackwell.console.health import configuration, error_groups, health
from trackwell.console.paging import Window
from trackwell.console.templating import json_response
from trackwell.monitor.queues import queue_document
from trackwell.store.base import StoreError

LATENCY_DAYS = 30
DEAD_SHOWN = 20
ERRORS_SHOWN = 5
DEAD_CAP = 1000
ERRORS_CAP = 200
QUEUE_PARTS = ("queues",)


def queues(c: Console) -> list[dict[str, Any]]:
    """Every destination's queue right now (the same documents as `trackwell deliveries`)."""
    return [queue_document(s) for s in c.store.delivery_stats(c.now_ms())]


def sending(c: Console) -> dict[str, str | None]:
    """Per configured destination: capture mode, missing credentials, or None (it can send)."""

    def make() -> dict[str, str | None]:
        return {name: configuration(name, table) for name, table in c.destinations.items()}

    found: dict[str, str | None] = c.sending_cache.get(id(c.destinations), make, c.clock())
    return found


def healths(c: Console, found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The page's verdict on each queue, by destination (the queue documents themselves keep
    the keys `trackwell deliveries --json` prints)."""
    configured = sending(c)
    return {q["name"]: health(q, configured.get(q["name"])) for q in found}


def destinations_view(c: Console, window: Window | None = None) -> dict[str, Any]:
    """Queues with their health, plus per destination its latency chart, errors grouped by the
    tool's answer, and dead letters (`window` long)."""
    window = window or Window(DEAD_SHOWN, DEAD_CAP)
    today = c.today()
    since = today - LATENCY_DAYS + 1
    rollups = c.store.delivery_rollups(since, today)
    found = queues(c)
    details = []
    for queue in found:
        name = queue["name"]
        chart, overall = series.latency(rollups, name, since, today)
        errors = c.store.delivery_errors(name, ERRORS_CAP)
        dead = c.store.dead_letters(name, window.limit)
        details.append(
            {
                "name": name,
                "chart": chart.to_dict(),
                "has_latency": not chart.empty,
                "p50": overall["p50"],
                "p95": overall["p95"],
                "errors": [
                    {"seq": e.seq, "status": e.status, "at_ms": e.at_ms, "detail": e.detail}
                    for e in errors[:ERRORS_SHOWN]
                ],
                "error_groups": error_groups(errors),
                "errors_read": len(errors),
                "errors_cut": len(errors) >= ERRORS_CAP,
                "dead_page": window.describe(len(dead)),
                "dead": [
                    {
                        "seq": d.seq,
                        "message_id": d.message_id,
                        "label": d.label,
                        "person": d.person,
                        "attempts": d.attempts,
                        "error": d.error,
                        "updated_ms": d.updated_ms,
                    }
                    for d in dead
                ],
            }
        )
    return {
        "queues": found,
        "health": healths(c, found),
        "destinations": details,
        "days": LATENCY_DAYS,
    }


def destinations_page(request: Request) -> Response:
    """The delivery health page (the queue table refreshes live)."""
    c = console(request)
    flash = None
    params = request.query_params
    count, name, what = (
        params.get("replayed", ""),
        params.get("destination", ""),
        params.get("what", ""),
    )
    # The notice is shown only when the replay itself signed it: a link cannot make the page say
    # that something was replayed.
    if count.isdigit() and c.guard.check_notice(_notice(count, name, what), params.get("sig", "")):
        flash = {"count": count, "destination": name, "what": _WHAT_SHOWN.get(what, "dead letter")}
    return c.renderer.page(
        request,
        "destinations.html",
        view=destinations_view(c, Window.of(request, DEAD_SHOWN, DEAD_CAP)),
        flash=flash,
        parts=QUEUE_PARTS,
    )


def _notice(count: str, name: str, what: str) -> str:
    return f"replayed|{count}|{name}|{what}"


# What a replay may pick besides dead letters: captured messages, messages held for consent.
_WHAT_SHOWN = {"captured": "captured message", "held": "held message"}


def _what(value: str | None) -> str | None:
    return value if value in _WHAT_SHOWN else None


def _known(c: Console, name: str) -> bool:
    return any(q["name"] == name for q in queues(c))


def replay_confirm(request: Request) -> Response:
    """The confirmation step: what will be sent again, and where."""
    c = console(request)
    name = request.path_params["name"]
    if not _known(c, name):
        return c.renderer.page(request, "missing.html", 404, what="destination", name=name)
    message_id = request.query_params.get("message_id") or None
    letter = next((d for d in c.store.dead_letters(name, 1000) if d.message_id == message_id), None)
    what = _what(request.query_params.get("what"))
    return c.renderer.page(
        request,
        "replay.html",
        destination=name,
        # Only an id that names one of the destination's dead letters is shown or sent back: the
        # page never repeats text of the URL's making.
        message_id=None if what or letter is None else letter.message_id,
        asked_for_one=message_id is not None and what is None,
        letter=letter,
        captured=what == "captured",
        held=what == "held",
    )


def replay(request: Request) -> Response:
    """Requeue one dead letter (or all of a destination's, or its captured or held messages) and
    go back to the destinations page."""
    c = console(request)
    name = request.path_params["name"]
    form: dict[str, str] = request.scope.get("console_form") or {}
    if not _known(c, name):
        return c.renderer.page(request, "missing.html", 404, what="destination", name=name)
    message_id = form.get("message_id") or None
    what = _what(form.get("what"))
    try:
        count = c.store.requeue(
            name,
            dead_only=what is None,
            captured_only=what == "captured",
            held_only=what == "held",
            message_id=None if what else message_id,
            now_ms=c.now_ms(),
        )
    except StoreError as exc:
        return json_response({"code": 409, "message": str(exc)}, 409)
    # The destination and how many: nothing of the messages themselves, not even their ids.
    detail = {"messages": count, "what": what or "dead"}
    record(
        c.store,
        session_actor(request.scope.get("console_session")),
        "replay",
        name,
        detail,
        now_ms=c.now_ms(),
    )
    signed = c.guard.sign_notice(_notice(str(count), name, what or ""))
    query = urlencode(
        {"replayed": count, "destination": name, **({"what": what} if what else {}), "sig": signed}
    )
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/destinations?{query}#{quote(name, safe='')}", 303)


def api_destinations(request: Request) -> Response:
    """JSON: queues, latency, errors and dead letters."""
    window = Window.of(request, DEAD_SHOWN, DEAD_CAP)
    return json_response(destinations_view(console(request), window))
