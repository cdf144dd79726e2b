"""`trackwell serve`: the gateway (Segment- and Customer.io-compatible APIs) on uvicorn."""

from __future__ import annotations

import os
import shlex
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.extras import require_extra
from trackwell.cli.options import PLAN_FILE_HELP, options
from trackwell.cli.output import fail, stdout

if TYPE_CHECKING:
    from trackwell.io.config import Settings
    from trackwell.server.settings import GatewaySettings

# The same as trackwell.server's; repeated so `trackwell --help` does not import the server.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8500
DEFAULT_HIGH_WATER = 1_000_000

EXAMPLE_EVENT = (
    '{"userId": "user-42", "event": "Account Created", "properties":'
    ' {"plan": "free", "signup_source": "organic"}}'
)


def serve_command(
    plan: Annotated[
        str | None, typer.Option("--plan", help=PLAN_FILE_HELP, show_default=False)
    ] = None,
    store_url: Annotated[
        str | None, typer.Option("--store", help="Store URL (default: configured).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_PORT,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    no_router: Annotated[
        bool, typer.Option("--no-router", help="Do not deliver here (run `trackwell route` apart).")
    ] = False,
    write_key: Annotated[
        str | None,
        typer.Option(
            "--write-key",
            envvar="TRACKWELL_WRITE_KEY",
            help="A key for the `default` source (quick start).",
            show_envvar=True,
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="TLS certificate (PEM).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="TLS private key (PEM).")
    ] = None,
    high_water: Annotated[
        int,
        typer.Option(
            "--high-water",
            envvar="TRACKWELL_HIGH_WATER",
            min=1,
            help="Backlog (undelivered messages) above which requests get 429.",
        ),
    ] = DEFAULT_HIGH_WATER,
    watch_plan: Annotated[
        bool,
        typer.Option(
            "--watch-plan/--no-watch-plan",
            help="Reload the plan when its file changes (SIGHUP always reloads).",
        ),
    ] = True,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
    no_monitor: Annotated[
        bool,
        typer.Option(
            "--no-monitor", help="Do not evaluate monitors here (run `trackwell monitor`)."
        ),
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Once up, send a day of demo traffic to itself (for the console)."
        ),
    ] = False,
) -> None:
    """Run the gateway: Segment and Customer.io APIs, the snippet, /metrics; routers in-process."""
    require_extra("server", "trackwell serve")
    from trackwell.core.consent import ConsentConfigError
    from trackwell.io.config import ConfigError
    from trackwell.plan import PlanLoadError
    from trackwell.server.run import Listen, ListenError, serve
    from trackwell.store import StoreError, check_retention

    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            fail(f"{path}: no such file")
    try:
        settings = options.settings(plan=plan, store=store_url)
    except ConfigError as exc:
        fail(str(exc))
    try:
        check_retention(settings.retention.log_days, settings.retention.blocked_days)
    except ValueError as exc:
        fail(f"{settings.retention.log_days_origin}: {exc}")
    if not settings.sources and not write_key:
        fail(
            "no write keys: run `trackwell keys add SOURCE` (stored hashed in trackwell.toml),"
            " or pass --write-key KEY / TRACKWELL_WRITE_KEY for a quick start"
        )
    listen = Listen(host, port, workers, tls_cert, tls_key, log_level.lower())
    gateway_settings = _gateway_settings(settings, write_key, not no_router, high_water)
    if not no_monitor and not no_router and workers == 1:
        # One evaluator per deployment: the process that routes (several workers would alert twice).
        gateway_settings.monitor_interval = 60.0
    if not watch_plan:
        gateway_settings.plan_watch_seconds = None
    if workers > 1 and write_key:
        os.environ["TRACKWELL_WRITE_KEY"] = write_key  # the workers read it from there
    worker_settings = {
        "config": str(settings.config_file) if settings.config_file else options.config,
        "plan": str(settings.plan),
        "store": settings.store,
        "router": not no_router,
        "high_water": high_water,
        "watch_plan": watch_plan,
        "log_level": listen.log_level,
    }
    try:
        serve(
            gateway_settings,
            listen,
            worker_settings,
            lambda: _started(listen.url, settings, write_key, tls=tls_cert is not None, demo=demo),
        )
    except (PlanLoadError, StoreError, ConsentConfigError) as exc:
        fail(str(exc))
    except ListenError as exc:
        fail(f"cannot listen on {exc} (is another gateway running? pass --port)")


def _gateway_settings(
    settings: Settings, write_key: str | None, router: bool, high_water: int
) -> GatewaySettings:
    from trackwell.console.auth import admin_token_hash
    from trackwell.server.ops import metrics_token_hash
    from trackwell.server.settings import GatewaySettings
    from trackwell.server.webhook_keys import WebhookKeys

    destinations = []
    if settings.destinations:
        from trackwell.cli.delivery import configured_destinations

        # Only a gateway that routes sends; one run with --no-router needs no credentials.
        destinations = configured_destinations(sending=router)
    return GatewaySettings(
        plan=settings.plan,
        store=settings.store,
        sources=settings.sources,
        write_key=write_key,
        destinations=destinations,
        router=router,
        high_water=high_water,
        monitors=settings.monitors,
        alerts=settings.alerts,
        destination_tables=settings.destinations,
        base_dir=settings.config_file.parent if settings.config_file else Path(),
        admin_token_hash=admin_token_hash(settings.console, os.environ),
        metrics_token_hash=metrics_token_hash(os.environ),
        webhook_keys=WebhookKeys.from_environ(os.environ),
        retention=settings.retention,
    )


def _started(url: str, settings: Settings, write_key: str | None, *, tls: bool, demo: bool) -> None:
    """The banner, and the demo traffic when asked for."""
    _banner(url, settings, write_key, tls=tls)
    if demo and write_key:
        threading.Thread(
            target=_send_demo, args=(url, write_key, tls), name="trackwell-demo", daemon=True
        ).start()


def _send_demo(url: str, write_key: str, tls: bool) -> None:
    """Wait until the gateway answers, then send a day of traffic through it."""
    import httpx

    from trackwell.cli.demo import day_of_traffic, send_day

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=not tls).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    messages = day_of_traffic(300, 7)
    totals, _ = send_day(url, write_key, messages, insecure=tls)
    stdout.print(
        f"Demo: {len(messages):,} messages sent ({totals['accepted']:,} accepted, "
        f"{totals['repaired']:,} repaired, {totals['blocked']:,} blocked); open the console.",
        highlight=False,
    )


def _banner(url: str, settings: Settings, write_key: str | None, *, tls: bool) -> None:
    """What a person needs to send a first event, printed once the gateway is up."""
    stdout.print(f"\n[bold]trackwell gateway[/] listening on [bold]{url}[/]")
    stdout.print(f"  plan   {settings.plan}\n  store  {settings.store}")
    for name, table in settings.destinations.items():
        if table.get("mode") == "capture":
            stdout.print(f"  [yellow]{name}: capture mode[/] (requests recorded, not sent)")
    key = write_key or "<your write key>"
    if write_key:
        stdout.print(f"  write key  [bold]{write_key}[/] (source 'default')")
    insecure = " -k" if tls else ""
    curl = (
        f"curl -sS{insecure} {url}/v1/track -u {shlex.quote(key + ':')}"
        f" -H 'Content-Type: application/json' -d {shlex.quote(EXAMPLE_EVENT)}"
    )
    stdout.print("\nSend an event:", highlight=False)
    stdout.print(f"  {curl}", markup=False, highlight=False)
    console = (
        "log in with TRACKWELL_ADMIN_TOKEN"
        if os.environ.get("TRACKWELL_ADMIN_TOKEN")
        else ("set TRACKWELL_ADMIN_TOKEN (or [console] admin_token_hash) to log in")
    )
    stdout.print(f"\nConsole  {url}/  ({console})", highlight=False)
    stdout.print(
        f"\nThen: trackwell timeline user-42 · trackwell demo --url {url} --write-key {key}"
        f"\nMetrics {url}/metrics · API {url}/openapi.json · snippet {url}/trackwell.js"
        "\nCtrl-C stops (in-flight requests finish first).\n",
        markup=False,
        highlight=False,
    )
