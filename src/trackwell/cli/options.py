"""Options given before the command (`trackwell --config FILE plan lint`), for every group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from trackwell.io.config import Settings


@dataclass
class GlobalOptions:
    """What the root callback parsed; read by the command groups."""

    config: str | None = None

    def settings(self, *, plan: str | None = None, store: str | None = None) -> Settings:
        """Settings resolved with this invocation's flags."""
        from trackwell.io.config import load_settings

        return load_settings(config=self.config, plan=plan, store=store)


options = GlobalOptions()

# The same `--plan` on every command that reads a plan, with the same help.
PLAN_HELP = (
    "Plan file or git:REF:PATH (default: TRACKWELL_PLAN, then trackwell.toml's plan, then"
    " tracking-plan.yaml)."
)
# The gateway watches its plan file for changes, so it takes a file only.
PLAN_FILE_HELP = (
    "Plan file (default: TRACKWELL_PLAN, then trackwell.toml's plan, then tracking-plan.yaml)."
)
PlanOpt = Annotated[str | None, typer.Option("--plan", help=PLAN_HELP, show_default=False)]
# `-o -` means standard output, for every command that writes a file.
STDOUT = "-"


def cli_actor() -> str:
    """Who a command acts as in the audit log and on privacy requests: `cli:<OS user>`, or
    `cli` when the user name cannot be found (no login name, no USER variable)."""
    import getpass

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        return "cli"
    return f"cli:{user}" if user else "cli"
