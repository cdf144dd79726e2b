"""Options given before the command (`trackwell --config FILE plan lint`), for every group."""

from __future__ import annotations

from dataclasses import dataclass

from trackwell.io.config import Settings, load_settings


@dataclass
class GlobalOptions:
    """What the root callback parsed; read by the command groups."""

    config: str | None = None

    def settings(self, *, plan: str | None = None, store: str | None = None) -> Settings:
        """Settings resolved with this invocation's flags."""
        return load_settings(config=self.config, plan=plan, store=store)


options = GlobalOptions()
