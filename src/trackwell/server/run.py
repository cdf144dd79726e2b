"""Running the gateway under uvicorn: one process, or several workers over one socket."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from trackwell.console.auth import admin_token_hash
from trackwell.monitor.settings import with_workflows
from trackwell.server import logs, timeouts
from trackwell.server.app import create_app
from trackwell.server.ops import metrics_token_hash
from trackwell.server.settings import PLAN_WATCH_SECONDS, GatewaySettings

# Workers are separate processes: they rebuild their settings from this variable (no secrets;
# a quick-start key travels in TRACKWELL_WRITE_KEY, which the workers inherit).
WORKER_SETTINGS = "TRACKWELL_GATEWAY_SETTINGS"
GRACEFUL_SHUTDOWN_SECONDS = 30


class ListenError(OSError):
    """The address cannot be listened on (in use, not ours, no permission)."""


@dataclass(frozen=True, slots=True)
class Listen:
    """Where and how to listen."""

    host: str
    port: int
    workers: int = 1
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "info"

    @property
    def url(self) -> str:
        """The base URL clients use."""
        scheme = "https" if self.tls_cert else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def bind(listen: Listen) -> socket.socket:
    """The listening socket, bound before anything starts so a busy port fails fast."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"{listen.host}:{listen.port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _options(listen: Listen) -> dict[str, Any]:
    return {
        "host": listen.host,
        "port": listen.port,
        "log_config": None,  # our JSON logging, set up by logs.configure
        "access_log": False,  # ours leaves out the query string (browser keys travel there)
        "server_header": False,
        "ssl_certfile": str(listen.tls_cert) if listen.tls_cert else None,
        "ssl_keyfile": str(listen.tls_key) if listen.tls_key else None,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "http": timeouts.protocol(),  # a deadline on each request's head (idle, slowloris)
        "log_level": listen.log_level,
    }


def serve(
    settings: GatewaySettings,
    listen: Listen,
    worker_settings: dict[str, Any],
    banner: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT: in-flight requests finish, the writer flushes."""
    logs.configure(listen.log_level)
    # SIGHUP reloads the plan (installed by the app); until then it must not end the process.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sock = bind(listen)
    if listen.workers <= 1:
        if banner is not None:
            settings.on_ready = banner
        server = uvicorn.Server(uvicorn.Config(create_app(settings), **_options(listen)))
        server.run(sockets=[sock])
        return
    os.environ[WORKER_SETTINGS] = json.dumps(worker_settings)
    sock.close()  # it proved the port is free; uvicorn's supervisor binds and shares its own
    if banner is not None:
        banner()
    uvicorn.run(
        "trackwell.server.run:worker_app",
        factory=True,
        workers=listen.workers,
        **_options(listen),
    )


def worker_app() -> Starlette:
    """The app of one worker process, built from WORKER_SETTINGS."""
    from trackwell.destinations.registry import from_settings
    from trackwell.io.config import load_settings

    options = json.loads(os.environ[WORKER_SETTINGS])
    logs.configure(options.get("log_level", "info"))
    settings = load_settings(
        config=options.get("config"), plan=options["plan"], store=options["store"]
    )
    destinations = [
        from_settings(name, table, os.environ, sending=options.get("router", True))
        for name, table in settings.destinations.items()
    ]
    return create_app(
        GatewaySettings(
            plan=settings.plan,
            store=settings.store,
            sources=settings.sources,
            write_key=os.environ.get("TRACKWELL_WRITE_KEY") or None,
            destinations=destinations,
            router=options.get("router", True),
            high_water=options.get("high_water"),
            plan_watch_seconds=PLAN_WATCH_SECONDS if options.get("watch_plan", True) else None,
            admin_token_hash=admin_token_hash(settings.console, os.environ),
            metrics_token_hash=metrics_token_hash(os.environ),
            monitors=with_workflows(settings.monitors, settings.workflows),
            destination_tables=settings.destinations,
            retention=settings.retention,
        )
    )
