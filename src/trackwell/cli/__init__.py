"""The `trackwell` command line: a thin layer over the Python API, one module per group.

Every command is listed here by name, module and one-line summary (`COMMANDS`); its module is
imported only when the command runs, and a command module imports only typer and the standard
library at its top: what a command works with (the plan, the checks, the store, the monitors,
the server, rich) is imported inside the command. So `trackwell --help` imports no command at
all, and works without the optional extras. `tests/test_import_budget.py` holds that line.
"""

from __future__ import annotations

from typing import Annotated

import typer

from trackwell.cli.lazy import LazyCommand, lazy_group
from trackwell.cli.options import options
from trackwell.core.version import __version__

# In the order `trackwell --help` lists them. A summary is the first line of the command's
# help, repeated so the help needs no import; tests/test_import_budget.py keeps them equal.
COMMANDS: dict[str, LazyCommand] = {
    "check": LazyCommand(
        "trackwell.cli.check",
        "check_command",
        "Check events against the tracking plan; exit 1 when something is blocked.",
    ),
    "timeline": LazyCommand(
        "trackwell.cli.timeline",
        "timeline_command",
        "Show a person's profile, anonymous ids and every message in action-time order.",
    ),
    "monitor": LazyCommand(
        "trackwell.cli.monitor",
        "monitor_command",
        "Evaluate the monitors every minute and send alerts, until stopped (--once: one round).",
    ),
    "parity": LazyCommand(
        "trackwell.cli.monitor",
        "parity_command",
        "Count one event day by day in two (or three, with --csv) places; exit 1 over the"
        " threshold.",
    ),
    "audit": LazyCommand(
        "trackwell.cli.audit",
        "audit_command",
        "Unused, unsent, unplanned and deprecated events, and properties that carry nothing.",
    ),
    "why": LazyCommand(
        "trackwell.cli.why",
        "why_command",
        "Profile, merged history, last events with verdicts and deliveries, and a diagnosis.",
    ),
    "deliveries": LazyCommand(
        "trackwell.cli.delivery",
        "deliveries_command",
        "Per destination: pending, in flight, delivered, captured, no consent, held, retrying,"
        " dead, oldest pending, last error.",
    ),
    "replay": LazyCommand(
        "trackwell.cli.delivery",
        "replay_command",
        "Schedule stored messages for re-delivery; the router sends them (ids keep it idempotent).",
    ),
    "route": LazyCommand(
        "trackwell.cli.delivery",
        "route_command",
        "Run the router for the configured destinations until stopped (SIGTERM or Ctrl-C).",
    ),
    "privacy": LazyCommand(
        "trackwell.cli.privacy",
        "app",
        "Erase or suppress a person everywhere; see each request's per-destination receipts.",
    ),
    "audit-log": LazyCommand(
        "trackwell.cli.auditlog",
        "audit_log_command",
        "Admin actions, newest first: who did what to what, and when (never a payload value).",
    ),
    "backfill": LazyCommand(
        "trackwell.cli.backfill",
        "backfill_command",
        "Send historical events to one destination: validated, rate-limited, resumable,"
        " idempotent.",
    ),
    "serve": LazyCommand(
        "trackwell.cli.serve",
        "serve_command",
        "Run the gateway: Segment and Customer.io APIs, the snippet, /metrics; routers in-process.",
    ),
    "demo": LazyCommand(
        "trackwell.cli.demo",
        "demo_command",
        "Send a day of traffic on the served plan's events (visits, signups, mistakes) to a gateway.",
    ),
    "plan": LazyCommand(
        "trackwell.cli.plan", "app", "Lint, diff, export and import the tracking plan."
    ),
    "store": LazyCommand(
        "trackwell.cli.store",
        "app",
        "Check the store or apply its retention (SQLite file or PostgreSQL) on demand.",
    ),
    "keys": LazyCommand(
        "trackwell.cli.keys",
        "app",
        "Write keys for the gateway's sources (stored hashed in trackwell.toml).",
    ),
}

app = typer.Typer(
    name="trackwell",
    cls=lazy_group(COMMANDS),
    help="Schema-first customer event pipeline: plan, check, store and deliver events.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help: typer's rich help imports rich's Markdown and Pygments (more than the whole
    # start-up budget), and the help texts hold no markup.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trackwell {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Annotated[
        str | None,
        typer.Option("--config", help="Config file (default: TRACKWELL_CONFIG, trackwell.toml)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Schema-first customer event pipeline: plan, check, store and deliver events."""
    options.config = config


def main() -> None:
    """Entry point of the `trackwell` console script."""
    app()
