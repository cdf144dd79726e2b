"""Options given before the command (`trackwell --config FILE plan lint`), for every group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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


def cli_actor() -> str:
    """Who a command acts as in the audit log and on privacy requests: `cli:<OS user>`, or
    `cli` when the user name cannot be found (no login name, no USER variable)."""
    import getpass

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        return "cli"
    return f"cli:{user}" if user else "cli"
