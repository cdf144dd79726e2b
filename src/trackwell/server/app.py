"""The ASGI app: routes, error handling, CORS, and the lifespan that runs the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.types import Scope

from trackwell.server import cio_api, ops, regulations, segment_api, snippet, webhooks
from trackwell.server.cors import SourceCORS
from trackwell.server.gateway import Gateway
from trackwell.server.logs import AccessLog
from trackwell.server.problems import Problem, json_response
from trackwell.server.settings import GatewaySettings

log = logging.getLogger("trackwell.server")


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return json_response({"code": code, "message": str(exc.detail)}, exc.status_code, headers)


# nginx's code for "the client closed the request": no answer reaches anyone, but the access
# log and the request metrics say what happened rather than counting a server error.
CLIENT_CLOSED = 499


async def _client_gone(request: Request, exc: Exception) -> Response:
    # The client went away mid-body: nothing was stored, and there is no one to answer. The
    # access log's line (status 499) is the whole record; it is not the server's error.
    return Response(status_code=CLIENT_CLOSED)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc, extra={"fields": {"path": request.url.path}})
    return json_response({"code": "internal", "message": "internal error; nothing was stored"}, 500)


async def _reload(gateway: Gateway, trigger: str) -> None:
    # Loading and compiling take milliseconds of CPU: off the event loop, requests keep flowing.
    previous = gateway.plan.plan.version
    if await asyncio.to_thread(gateway.plan.reload):
        await asyncio.to_thread(gateway.plan_reloaded, trigger, previous)


async def _watch_plan(gateway: Gateway, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if gateway.plan.changed():
            await _reload(gateway, "file")


class ConsoleMount(Mount):
    """The console at `/`, matching only its own paths, so the API keeps its 404s and 405s."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        from trackwell.console import is_console_path

        if scope["type"] == "http" and not is_console_path(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)


def _console(gateway: Gateway) -> Starlette:
    """The web console over the gateway's store, plan and monitor round."""
    from trackwell.console import create_console
    from trackwell.monitor import load_options

    config = gateway.settings
    monitor = gateway.monitor
    return create_console(
        gateway.store,
        lambda: gateway.plan.plan,
        admin_token_hash=config.admin_token_hash,
        latest_evaluation=(lambda: monitor.latest) if monitor is not None else None,
        monitor_options=load_options(config.monitors),
        destinations=config.destination_tables,
        base_dir=config.base_dir,
        privacy=gateway.privacy,
    )


def create_app(settings: GatewaySettings | Gateway) -> Starlette:
    """The gateway app; `settings` may be a built Gateway (tests share one with the app)."""
    gateway = settings if isinstance(settings, Gateway) else Gateway(settings)
    config = gateway.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        gateway.start()
        tasks: list[asyncio.Task[Any]] = []
        reloads: set[asyncio.Task[None]] = set()

        def on_hangup() -> None:
            task = loop.create_task(_reload(gateway, "sighup"))
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        hangup = False
        # Event loops without signal support (or not in the main thread) refuse the handler
        # with a RuntimeError (its subclass on platforms without signals) or a ValueError;
        # then the plan file watcher is the only way to reload.
        with contextlib.suppress(RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, on_hangup)
            hangup = True
        if config.plan_watch_seconds:
            tasks.append(loop.create_task(_watch_plan(gateway, config.plan_watch_seconds)))
        if config.on_ready is not None:
            config.on_ready()
        try:
            yield
        finally:
            if hangup:
                loop.remove_signal_handler(signal.SIGHUP)
            for task in tasks:
                task.cancel()
            # Blocking joins (flush the writer, stop routers) off the loop thread.
            await asyncio.to_thread(gateway.stop)

    app = Starlette(
        # The console goes last, so the gateway's own routes win.
        routes=[
            *segment_api.routes(),
            *cio_api.routes(),
            *regulations.routes(),
            *webhooks.routes(),
            *ops.routes(),
            *snippet.routes(),
            ConsoleMount("/", app=_console(gateway)),
        ],
        middleware=[
            Middleware(AccessLog, gateway=gateway, log_requests=config.access_log),
            # Web origins are allowed per source ([sources.NAME] allowed_origins).
            Middleware(SourceCORS, gateway=gateway),
        ],
        exception_handlers={
            Problem: _problem,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app
