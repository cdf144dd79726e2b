"""Settings from flags, `TRACKWELL_*` environment variables and `trackwell.toml`."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "trackwell.toml"
DEFAULT_PLAN = "tracking-plan.yaml"
DEFAULT_STORE = "sqlite:///.trackwell/trackwell.db"
KNOWN_KEYS = ("plan", "store", "destinations")


class ConfigError(Exception):
    """A configuration file or value that cannot be used."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the plan and the store are, resolved once per command."""

    plan: Path
    store: str
    config_file: Path | None = None
    # [destinations.NAME] tables, as written (secrets are read from the environment later).
    destinations: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_settings(
    *,
    config: str | Path | None = None,
    plan: str | Path | None = None,
    store: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: a flag wins, then the environment, then trackwell.toml, then defaults."""
    env = os.environ if environ is None else environ
    config_path = Path(config or env.get("TRACKWELL_CONFIG") or CONFIG_FILE)
    file_values = _read_config(config_path, required=config is not None)
    base = config_path.parent if file_values else Path()

    def pick(flag: Any, env_key: str, key: str, default: str) -> tuple[str, bool]:
        if flag is not None:
            return str(flag), False
        if env.get(env_key):
            return env[env_key], False
        if key in file_values:
            return str(file_values[key]), True
        return default, False

    plan_value, plan_from_file = pick(plan, "TRACKWELL_PLAN", "plan", DEFAULT_PLAN)
    store_value, _ = pick(store, "TRACKWELL_STORE", "store", DEFAULT_STORE)
    plan_path = Path(plan_value)
    if plan_from_file and not plan_path.is_absolute():
        plan_path = base / plan_path  # relative to the config file, as people expect
    destinations = file_values.get("destinations", {})
    if not isinstance(destinations, dict) or not all(
        isinstance(v, dict) for v in destinations.values()
    ):
        raise ConfigError(f"{config_path}: destinations must be tables: [destinations.NAME]")
    return Settings(
        plan=plan_path,
        store=store_value,
        config_file=config_path if file_values else None,
        destinations=destinations,
    )


def _read_config(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such file") from None
        return {}
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    for key in values:
        if key not in KNOWN_KEYS:
            raise ConfigError(
                f"{path}: unknown key {key!r} (expected one of {', '.join(KNOWN_KEYS)})"
            )
    return values
