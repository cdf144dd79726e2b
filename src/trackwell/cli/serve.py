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
    from trackwell.cli.demo_customerio import DemoCustomerIO
    from trackwell.io.config import Settings
    from trackwell.server.settings import GatewaySettings

# The same as trackwell.server's; repeated so `trackwell --help` does not import the server.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8500
DEFAULT_HIGH_WATER = 1_000_000

# The person the banner's curl line sends as, and `trackwell timeline` then shows.
EXAMPLE_USER = "user-42"
# The destination `--demo` adds: the local stand-in for Customer.io (`cli/demo_customerio.py`).
DEMO_DESTINATION = "customerio"
# The audit action that marks a store as given its demo day: `--demo` sends one per store.
DEMO_SEEDED = "demo_seeded"


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
            "--demo",
            help="Demo mode: a local stand-in for Customer.io that reports back, and once per"
            " store a day of demo traffic sent to itself (for the console).",
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
    demo_cio = _demo_customerio(settings, gateway_settings, listen.url) if demo else None
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
    finally:
        if demo_cio is not None:
            demo_cio.stop()


def _demo_customerio(
    settings: Settings, gateway_settings: GatewaySettings, url: str
) -> DemoCustomerIO | None:
    """Demo mode's Customer.io: the stand-in started on a loopback port, a destination with its
    demo credentials added, and its webhook signing key set for the gateway's receiver. Only
    when no destination of that name is configured (a real one is never replaced) and this
    process routes (the stand-in lives here)."""
    from trackwell.cli.demo_customerio import (
        DEMO_API_KEY,
        DEMO_SITE_ID,
        DEMO_WEBHOOK_KEY,
        DemoCustomerIO,
    )
    from trackwell.destinations.customerio import CustomerIO
    from trackwell.monitor.settings import with_workflows
    from trackwell.plan import load_plan
    from trackwell.server.webhook_keys import CUSTOMERIO_KEY_ENV, WebhookKeys

    if DEMO_DESTINATION in settings.destinations or not gateway_settings.router:
        return None
    demo = DemoCustomerIO(
        load_plan(settings.plan), gateway_url=url, campaigns=settings.workflows
    ).start()
    gateway_settings.destinations = [
        *gateway_settings.destinations,
        CustomerIO(DEMO_DESTINATION, site_id=DEMO_SITE_ID, api_key=DEMO_API_KEY, base_url=demo.url),
    ]
    gateway_settings.destination_tables = {
        **gateway_settings.destination_tables,
        DEMO_DESTINATION: {"type": "customerio", "base_url": demo.url},
    }
    # The workflow monitor counts each demo workflow's own campaign, as `[workflows]` would say.
    campaigns = {w.name: [str(w.campaign_id)] for w in demo.workflows}
    gateway_settings.monitors = with_workflows(
        settings.monitors, {**campaigns, **settings.workflows}
    )
    # The receiver checks reports against this key; keys already set (real ones) are kept, and
    # the stand-in signs with the last listed (the newest, during a rotation).
    os.environ.setdefault(CUSTOMERIO_KEY_ENV, DEMO_WEBHOOK_KEY)
    gateway_settings.webhook_keys = WebhookKeys.from_environ(os.environ)
    demo.webhook_key = (gateway_settings.webhook_keys.customerio or (DEMO_WEBHOOK_KEY,))[-1]
    return demo


def _gateway_settings(
    settings: Settings, write_key: str | None, router: bool, high_water: int
) -> GatewaySettings:
    from trackwell.console.auth import admin_token_hash
    from trackwell.monitor.settings import with_workflows
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
        # `[workflows]` gives the workflow monitor its campaigns (as `worker_app` does).
        monitors=with_workflows(settings.monitors, settings.workflows),
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
            target=_send_demo,
            args=(url, write_key, tls, settings),
            name="trackwell-demo",
            daemon=True,
        ).start()


def _send_demo(url: str, write_key: str, tls: bool, settings: Settings) -> None:
    """Wait until the gateway answers, then send a day of traffic on its plan through it,
    unless this store already had its demo day (a restart must not add another)."""
    from trackwell.cli.demo import day_of_traffic, send_day
    from trackwell.plan import load_plan
    from trackwell.store import StoreError, open_store

    try:
        store = open_store(settings.store)
    except StoreError as exc:
        stdout.print(f"Demo: not sent ({exc}).", highlight=False)
        return
    try:
        if store.audit_entries(limit=1, action=DEMO_SEEDED):
            stdout.print(
                "Demo: this store already has its demo day (start over with a new --store).",
                highlight=False,
            )
            return
        _wait_healthy(url, tls)
        messages = day_of_traffic(300, 7, plan=load_plan(settings.plan))
        totals, _ = send_day(url, write_key, messages, insecure=tls)
        detail = {"messages": len(messages), "accepted": totals["accepted"]}
        store.append_audit("demo", DEMO_SEEDED, str(settings.plan), detail, now_ms=_now_ms())
    finally:
        store.close()
    stdout.print(
        f"Demo: {len(messages):,} messages sent ({totals['accepted']:,} accepted, "
        f"{totals['repaired']:,} repaired, {totals['blocked']:,} blocked); open the console.",
        highlight=False,
    )


def _now_ms() -> int:
    """The current time in Unix milliseconds."""
    return int(time.time() * 1000)


def _wait_healthy(url: str, tls: bool) -> None:
    """Return once the gateway answers /healthz (or after 30 s: sending then says why)."""
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1, verify=not tls).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)


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
    event = example_track(settings.plan)
    if event is None:
        stdout.print(
            "\nThe plan has no event whose required properties can be filled in for a curl line.",
            highlight=False,
        )
    else:
        curl = (
            f"curl -sS{insecure} {url}/v1/track -u {shlex.quote(key + ':')}"
            f" -H 'Content-Type: application/json' -d {shlex.quote(event)}"
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
        f"\nThen: trackwell timeline {EXAMPLE_USER} · trackwell demo --url {url} --write-key {key}"
        f" --plan {shlex.quote(str(settings.plan))}"
        f"\nMetrics {url}/metrics · API {url}/openapi.json · snippet {url}/trackwell.js"
        "\nCtrl-C stops (in-flight requests finish first).\n",
        markup=False,
        highlight=False,
    )


def example_track(plan_path: Path) -> str | None:
    """The banner's example: a track call of one of the served plan's own events, with valid
    values for its required properties (JSON text), or None when no event can be filled in."""
    import json

    from trackwell.plan import PlanLoadError, load_plan
    from trackwell.plan.samples import example_event

    try:
        picked = example_event(load_plan(plan_path))
    except PlanLoadError:
        return None  # the gateway refuses to start on it anyway, naming the problems
    if picked is None:
        return None
    name, properties = picked
    return json.dumps({"userId": EXAMPLE_USER, "event": name, "properties": properties})
