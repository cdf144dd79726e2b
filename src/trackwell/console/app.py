"""The console's ASGI app: routes, the login flow, static files and error pages."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from trackwell.console import audit, destinations, events, people, privacy, quality, violations
from trackwell.console.auth import (
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Guard,
)
from trackwell.console.context import Console, ConsoleStore, PlanCache, PrivacyDesk, console
from trackwell.console.gate import Gate, cookies
from trackwell.console.templating import Renderer, build_environment, json_response
from trackwell.monitor.runner import Evaluation
from trackwell.plan import Plan

log = logging.getLogger("trackwell.console")

STATIC = Path(__file__).parent / "static"


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this console, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/people"
    return target


def client_address(request: Request) -> str:
    """Who is logging in, for the throttle: the peer address (the gateway's proxy settings, when
    it runs behind one, have already put the original client there)."""
    return request.client.host if request.client else "unknown"


def _cookie_options(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": request.scope.get("root_path", "") or "/",
    }


def login_form(request: Request, error: str | None = None, status: int = 200) -> Response:
    """The login form, with a CSRF token bound to a short-lived cookie."""
    c = console(request)
    cookie, token = c.guard.login_nonce()
    html = c.renderer.html(
        request,
        "login.html",
        error=error,
        login_token=token,
        next=_safe_next(request.query_params.get("next")),
        configured=c.guard.configured,
    )
    response = HTMLResponse(html, status)
    response.set_cookie(
        LOGIN_COOKIE, cookie, max_age=LOGIN_FORM_SECONDS, **_cookie_options(request)
    )
    return response


def login(request: Request) -> Response:
    """Check the admin token; on success start a session and go where the person was going."""
    c = console(request)
    form: dict[str, str] = request.scope.get("console_form") or {}
    if not c.guard.check_login_nonce(
        cookies(request.scope).get(LOGIN_COOKIE), form.get("csrf", "")
    ):
        return login_form(request, "The form expired: log in again.", 403)
    client = client_address(request)
    wait = c.guard.retry_after(client)
    if wait:
        response = login_form(request, f"Too many failed attempts: wait {wait} s.", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    if not c.guard.check_token(form.get("token", "")):
        c.guard.failed(client)
        # Never the token, in the log or the audit log: it may be a near miss of the real one.
        log.warning("console login refused")
        audit.record(c.store, "console", "console_login_failed", "console", None, now_ms=c.now_ms())
        return login_form(request, "That is not the admin token.", 401)
    session, cookie = c.guard.new_session()
    audit.record(
        c.store, audit.session_actor(session), "console_login", "console", None, now_ms=c.now_ms()
    )
    base = request.scope.get("root_path", "")
    response = RedirectResponse(base + _safe_next(form.get("next")), 303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_SECONDS, **_cookie_options(request))
    response.delete_cookie(LOGIN_COOKIE, path=_cookie_options(request)["path"])
    log.info("console login")
    return response


def logout(request: Request) -> Response:
    """End the session (the gate has already checked its CSRF token)."""
    c = console(request)
    session = request.scope.get("console_session")
    if session is not None:
        c.guard.revoke(session)
    response = RedirectResponse(request.scope.get("root_path", "") + "/login", 303)
    response.delete_cookie(SESSION_COOKIE, path=_cookie_options(request)["path"])
    return response


def home(request: Request) -> Response:
    """The console opens on People."""
    return RedirectResponse(request.scope.get("root_path", "") + "/people", 303)


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    api = request.url.path.startswith(request.scope.get("root_path", "") + "/api/")
    if api or "text/html" not in request.headers.get("accept", ""):
        # The same error shape as the gateway's API: one service, one convention.
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return json_response({"code": code, "message": str(exc.detail)}, exc.status_code)
    c = console(request)
    html = c.renderer.html(request, "missing.html", what="page", name=request.url.path)
    return HTMLResponse(html, exc.status_code)


# Paths the console answers; everything else stays the gateway's (its 404s and 405s included).
CONSOLE_PREFIXES = (
    "/people", "/events", "/violations", "/destinations", "/quality", "/plan", "/login",
    "/logout", "/privacy", "/audit", "/api/", "/static/",
)  # fmt: skip


def is_console_path(path: str) -> bool:
    """Whether a request path belongs to the console (the home page `/` included)."""
    return path == "/" or any(path == p.rstrip("/") or path.startswith(p) for p in CONSOLE_PREFIXES)


def routes() -> list[BaseRoute]:
    """Every console route; the gate in front of them requires a session."""
    return [
        Route("/", home, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/people", people.people_page, methods=["GET"]),
        Route("/people/{key:path}", people.person_page, methods=["GET"]),
        Route("/events", events.events_page, methods=["GET"]),
        Route("/events/{name:path}", events.event_page, methods=["GET"]),
        Route("/violations", violations.violations_page, methods=["GET"]),
        Route("/destinations", destinations.destinations_page, methods=["GET"]),
        Route("/destinations/{name}/replay", destinations.replay_confirm, methods=["GET"]),
        Route("/destinations/{name}/replay", destinations.replay, methods=["POST"]),
        Route("/quality", quality.quality_page, methods=["GET"]),
        Route("/plan", quality.plan_page, methods=["GET"]),
        Route("/privacy", privacy.privacy_page, methods=["GET"]),
        Route("/privacy/confirm", privacy.privacy_confirm, methods=["POST"]),
        Route("/privacy/requests", privacy.privacy_create, methods=["POST"]),
        Route("/privacy/{request_id}", privacy.request_page, methods=["GET"]),
        Route("/audit", audit.audit_page, methods=["GET"]),
        Route("/api/people", people.api_people, methods=["GET"]),
        Route("/api/people/{key:path}", people.api_person, methods=["GET"]),
        Route("/api/events", events.api_events, methods=["GET"]),
        Route("/api/events/{name:path}", events.api_event, methods=["GET"]),
        Route("/api/violations", violations.api_violations, methods=["GET"]),
        Route("/api/destinations", destinations.api_destinations, methods=["GET"]),
        Route("/api/quality", quality.api_quality, methods=["GET"]),
        Route("/api/privacy", privacy.api_privacy, methods=["GET"]),
        Route("/api/privacy/{request_id}", privacy.api_request, methods=["GET"]),
        Route("/api/audit", audit.api_audit, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]


def create_console(
    store: ConsoleStore,
    plan_provider: Callable[[], Plan],
    *,
    admin_token_hash: str | None,
    monitor_options: Mapping[str, Mapping[str, Any]] | None = None,
    latest_evaluation: Callable[[], Evaluation | None] | None = None,
    destinations: Mapping[str, Mapping[str, Any]] | None = None,
    base_dir: Path = Path(),
    privacy: PrivacyDesk | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The console app over a store and the plan in force, mountable at `/` in the gateway.

    `admin_token_hash` is `sha256:<hex>` (see `auth.admin_token_hash`); None locks everyone out.
    `latest_evaluation` hands over the gateway's own monitor round (`MonitorLoop.latest`); when it
    is absent or has not run yet, the quality page evaluates the monitors itself with
    `monitor_options` (as `trackwell.monitor.load_options` returns them) and `destinations` (the
    `[destinations.NAME]` tables). `privacy` makes the requests of the Privacy page (the
    gateway's `PrivacyService`); without it the page lists requests and makes none.
    """
    guard = Guard(admin_token_hash)
    plans = PlanCache(plan_provider)

    def plan_info() -> dict[str, Any]:
        plan = plans.plan()
        return {"name": plan.name, "version": plan.version}

    renderer = Renderer(build_environment(), guard.csrf, plan_info)
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(Gate, guard=guard)],
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.console = Console(
        store=store,
        plans=plans,
        guard=guard,
        renderer=renderer,
        monitor_options=monitor_options,
        latest_evaluation=latest_evaluation,
        destinations=destinations or {},
        base_dir=base_dir,
        privacy=privacy,
        clock=clock,
    )
    return app
