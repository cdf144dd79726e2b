"""Monitor thresholds from `[monitors.NAME]` tables, checked against each monitor's defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trackwell.io.config import ConfigError
from trackwell.plan import naming

COMMON = {"enabled": True}
# The monitor whose `campaigns` come from trackwell.toml's `[workflows]`.
WORKFLOW_MONITOR = "workflow_not_triggering"


def monitor_options(
    tables: Mapping[str, Any], defaults: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every monitor's thresholds: the defaults, overridden by its table; unknown names refused."""
    for name in tables:
        if name not in defaults:
            hint = naming.closest(name, defaults)
            raise ConfigError(
                f"monitors.{name}: no such monitor"
                + (f"; did you mean {hint!r}?" if hint else f" (monitors: {', '.join(defaults)})")
            )
    return {
        name: _options(name, tables.get(name, {}), {**COMMON, **default})
        for name, default in defaults.items()
    }


def _options(name: str, table: Any, default: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"monitors.{name} must be a table: [monitors.{name}]")
    options = dict(default)
    for key, value in table.items():
        where = f"monitors.{name}.{key}"
        if key not in default:
            known = ", ".join(default)
            raise ConfigError(f"{where}: unknown setting (expected one of {known})")
        options[key] = _typed(where, value, default[key])
    return options


def _typed(where: str, value: Any, default: Any) -> Any:
    """The value, when it has the default's type (an integer is fine where a number is)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{where} must be a number of at least 0, got {value!r}")
        return value if isinstance(default, float) else _whole(where, value)
    if not isinstance(value, type(default)):
        raise ConfigError(f"{where} must be a {type(default).__name__}, got {value!r}")
    return value


def _whole(where: str, value: float) -> int:
    if value != int(value):
        raise ConfigError(f"{where} must be a whole number, got {value!r}")
    return int(value)


def with_workflows(
    tables: Mapping[str, Any], workflows: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """The `[monitors]` tables with `[workflows]` (workflow -> Customer.io campaign ids) given to
    the workflow_not_triggering monitor as its `campaigns`, unless its own table sets them."""
    merged = dict(tables)
    if not workflows:
        return merged
    table = merged.get(WORKFLOW_MONITOR, {})
    if isinstance(table, Mapping) and "campaigns" not in table:
        merged[WORKFLOW_MONITOR] = {
            **table,
            "campaigns": {name: list(ids) for name, ids in workflows.items()},
        }
    return merged
