"""The `trackwell` command line: a thin layer over the Python API, one module per group.

Every command is registered here, but a command module imports only typer and the standard
library at the top: what a command works with (the plan, the checks, the store, the monitors,
the server, rich) is imported inside the command when it runs, so `trackwell --help` stays fast
and works without the optional extras. `tests/test_import_budget.py` holds that line.
"""

from __future__ import annotations

from typing import Annotated

import typer

from trackwell.cli import plan
from trackwell.cli.audit import audit_command
from trackwell.cli.backfill import backfill_command
from trackwell.cli.check import check_command
from trackwell.cli.delivery import deliveries_command, replay_command, route_command
from trackwell.cli.demo import demo_command
from trackwell.cli.keys import app as keys_app
from trackwell.cli.monitor import monitor_command, parity_command
from trackwell.cli.options import options
from trackwell.cli.serve import serve_command
from trackwell.cli.timeline import timeline_command
from trackwell.cli.why import why_command
from trackwell.core.version import __version__

app = typer.Typer(
    name="trackwell",
    help="Schema-first customer event pipeline: plan, check, store and deliver events.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help: typer's rich help imports rich's Markdown and Pygments (more than the whole
    # start-up budget), and the help texts hold no markup.
    rich_markup_mode=None,
)
app.add_typer(plan.app, name="plan")
app.command("check")(check_command)
app.command("timeline")(timeline_command)
app.command("monitor")(monitor_command)
app.command("parity")(parity_command)
app.command("audit")(audit_command)
app.command("why")(why_command)
app.command("deliveries")(deliveries_command)
app.command("replay")(replay_command)
app.command("route")(route_command)
app.command("backfill")(backfill_command)
app.command("serve")(serve_command)
app.add_typer(keys_app, name="keys")
app.command("demo")(demo_command)


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
