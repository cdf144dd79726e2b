"""Settings from flags, `TRACKWELL_*` environment variables and `trackwell.toml`."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trackwell.core.messages import MESSAGE_TYPES
from trackwell.core.tokens import HASH_PREFIX, is_token_hash

CONFIG_FILE = "trackwell.toml"
DEFAULT_PLAN = "tracking-plan.yaml"
DEFAULT_STORE = "sqlite:///.trackwell/trackwell.db"
KNOWN_KEYS = (
    "plan",
    "store",
    "destinations",
    "sources",
    "monitors",
    "alerts",
    "console",
    "retention",
    "lint",
    "workflows",
)
# What a [workflows] entry may hold: the Customer.io campaign (or campaigns) a workflow is.
WORKFLOW_KEYS = ("customerio_campaign_id",)
# What a [sources.NAME] table may hold: the gateway's write keys (hashed) and their limits.
SOURCE_KEYS = (
    "key_hashes",
    "key_expires",
    "types",
    "anonymous_only",
    "rate_limit",
    "strict",
    "allowed_origins",
)
# A web origin as browsers send it in `Origin`: scheme, host, optional port; no path, no slash.
ORIGIN = re.compile(r"https?://[^/\s:]+(:[0-9]{1,5})?", re.IGNORECASE)


# What a [retention] table may hold, and the environment variable that overrides each.
RETENTION_KEYS = {
    "log_days": "TRACKWELL_RETENTION_LOG_DAYS",
    "blocked_days": "TRACKWELL_RETENTION_BLOCKED_DAYS",
}


class ConfigError(Exception):
    """A configuration file or value that cannot be used."""


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """How many days the log and the blocked messages are kept (None: for ever)."""

    log_days: int | None = None
    blocked_days: int | None = None
    # Where `log_days` was read (a file and key, or a variable), for errors found later (a log
    # retention shorter than the store's dedup window is refused by the store's rule).
    log_days_origin: str = field(default="retention.log_days", compare=False)

    @property
    def enabled(self) -> bool:
        """Whether anything is ever removed."""
        return self.log_days is not None or self.blocked_days is not None


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the plan and the store are, resolved once per command."""

    plan: Path
    store: str
    config_file: Path | None = None
    # [destinations.NAME] tables, as written (secrets are read from the environment later).
    destinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # [sources.NAME] tables: the gateway's write keys, stored as hashes, and what each may send.
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # [monitors.NAME] thresholds and the [alerts] table; trackwell.monitor checks their contents.
    monitors: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] = field(default_factory=dict)
    # [console]: the web console's admin token, stored as a hash (the token itself only in the env).
    console: dict[str, Any] = field(default_factory=dict)
    # [retention]: days the log and blocked messages are kept (the environment overrides each).
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    # [lint.severity]: lint codes raised, lowered or turned off ("error", "warning", "off").
    lint_levels: dict[str, str] = field(default_factory=dict)
    # [workflows]: a workflow named in the plan's `used_by` -> its Customer.io campaign ids.
    workflows: dict[str, tuple[str, ...]] = field(default_factory=dict)


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
        sources=parse_sources(config_path, file_values.get("sources", {})),
        monitors=_table(config_path, "monitors", file_values.get("monitors", {})),
        alerts=_table(config_path, "alerts", file_values.get("alerts", {})),
        console=parse_console(config_path, file_values.get("console", {})),
        retention=parse_retention(config_path, file_values.get("retention", {}), env),
        lint_levels=parse_lint(config_path, file_values.get("lint", {})),
        workflows=parse_workflows(config_path, file_values.get("workflows", {})),
    )


def parse_workflows(path: Path, value: Any) -> dict[str, tuple[str, ...]]:
    """Validate [workflows]: `"Paid welcome" = { customerio_campaign_id = 12 }` (an id, or a
    list of ids); returns each workflow's campaign ids as text, as reports carry them."""
    table = _table(path, "workflows", value)
    found: dict[str, tuple[str, ...]] = {}
    for name, entry in table.items():
        where = f"{path}: workflows.{name!r}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table: {{ customerio_campaign_id = 12 }}")
        unknown = sorted(set(entry) - set(WORKFLOW_KEYS))
        if unknown or "customerio_campaign_id" not in entry:
            raise ConfigError(
                f"{where} must give customerio_campaign_id"
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        ids = entry["customerio_campaign_id"]
        ids = ids if isinstance(ids, list) else [ids]
        if not ids or not all(
            (isinstance(i, int) and not isinstance(i, bool) and i > 0)
            or (isinstance(i, str) and i.strip())
            for i in ids
        ):
            raise ConfigError(
                f"{where}.customerio_campaign_id must be a campaign id (a number) or a list of them"
            )
        found[str(name)] = tuple(str(i).strip() for i in ids)
    return found


def _table(path: Path, key: str, value: Any) -> dict[str, Any]:
    """A top-level table as written; its contents are checked by the package that uses it."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key} must be a table: [{key}]")
    return value


def parse_lint(path: Path, value: Any) -> dict[str, str]:
    """Validate the [lint] table: `severity`, a table from lint code to "error", "warning" or
    "off"; an unknown code or level names the file and key."""
    table = _table(path, "lint", value)
    if not table:
        return {}  # the usual case: the plan package is not loaded for nothing
    from trackwell.plan.lint import LEVELS, SEVERITY

    for key in table:
        if key != "severity":
            raise ConfigError(f"{path}: lint.{key}: unknown key (expected severity)")
    levels = table.get("severity", {})
    if not isinstance(levels, dict):
        raise ConfigError(f"{path}: lint.severity must be a table: [lint.severity]")
    for code, level in levels.items():
        if code not in SEVERITY:
            raise ConfigError(
                f"{path}: lint.severity.{code}: unknown lint code"
                " (`trackwell plan lint --json` prints each finding's code)"
            )
        if level not in LEVELS:
            raise ConfigError(
                f"{path}: lint.severity.{code}: {level!r} is not a level"
                f" (expected one of {', '.join(LEVELS)})"
            )
    return dict(levels)


def parse_console(path: Path, value: Any) -> dict[str, Any]:
    """Validate the [console] table: only `admin_token_hash`, as `sha256:<64 hex digits>`."""
    table = _table(path, "console", value)
    for key in table:
        if key != "admin_token_hash":
            raise ConfigError(f"{path}: console.{key}: unknown key (expected admin_token_hash)")
    digest = table.get("admin_token_hash", HASH_PREFIX + "0" * 64)
    if not is_token_hash(digest):
        raise ConfigError(
            f"{path}: console.admin_token_hash must be 'sha256:<64 hex digits>'"
            ' (printf %s "$TOKEN" | sha256sum); keep the token itself in TRACKWELL_ADMIN_TOKEN'
        )
    return table


def parse_retention(path: Path, value: Any, env: Mapping[str, str]) -> RetentionSettings:
    """Validate the [retention] table (`log_days`, `blocked_days`: whole days, 1 or more); a
    `TRACKWELL_RETENTION_*` variable overrides its key."""
    table = _table(path, "retention", value)
    for key in table:
        if key not in RETENTION_KEYS:
            raise ConfigError(
                f"{path}: retention.{key}: unknown key (expected one of {', '.join(RETENTION_KEYS)})"
            )
    days: dict[str, int | None] = {}
    origin = f"{path}: retention.log_days"
    for key, variable in RETENTION_KEYS.items():
        if env.get(variable):
            if key == "log_days":
                origin = variable
            text = env[variable].strip()
            if not (text.isascii() and text.isdigit()) or int(text) < 1:
                raise ConfigError(
                    f"{variable}: must be a whole number of days, 1 or more (got {text!r})"
                )
            days[key] = int(text)
        elif key in table:
            found = table[key]
            if isinstance(found, bool) or not isinstance(found, int) or found < 1:
                raise ConfigError(
                    f"{path}: retention.{key} must be a whole number of days, 1 or more"
                    f" (got {found!r})"
                )
            days[key] = found
        else:
            days[key] = None
    return RetentionSettings(days["log_days"], days["blocked_days"], origin)


def parse_sources(path: Path, value: Any) -> dict[str, dict[str, Any]]:
    """Validate [sources.NAME] tables: `key_hashes`, optional `types`, `anonymous_only`,
    `rate_limit`, `strict` and `allowed_origins`."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: sources must be tables: [sources.NAME]")
    for name, table in value.items():
        where = f"{path}: sources.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table")
        for key in table:
            if key not in SOURCE_KEYS:
                raise ConfigError(
                    f"{where}: unknown key {key!r} (expected one of {', '.join(SOURCE_KEYS)})"
                )
        hashes = table.get("key_hashes", [])
        if not isinstance(hashes, list) or not all(is_token_hash(h) for h in hashes):
            raise ConfigError(
                f"{where}.key_hashes must be a list of 'sha256:<64 hex digits>' (made by `trackwell keys add`)"
            )
        _check_expiries(where, table.get("key_expires", {}), hashes)
        types = table.get("types")
        if types is not None and (
            not isinstance(types, list) or not all(t in MESSAGE_TYPES for t in types)
        ):
            raise ConfigError(f"{where}.types must list message types: {', '.join(MESSAGE_TYPES)}")
        if not isinstance(table.get("anonymous_only", False), bool):
            raise ConfigError(f"{where}.anonymous_only must be true or false")
        rate = table.get("rate_limit")
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0
        ):
            raise ConfigError(f"{where}.rate_limit must be a positive number of events per second")
        if not isinstance(table.get("strict", False), bool):
            raise ConfigError(f"{where}.strict must be true or false")
        _check_origins(where, table)
    return value


def _check_expiries(where: str, expires: Any, hashes: list[str]) -> None:
    """`key_expires`: a table from some of `key_hashes` to the time (with its offset) after
    which that key is refused, as `trackwell keys rotate --overlap` writes it."""
    if not isinstance(expires, dict):
        raise ConfigError(
            f'{where}.key_expires must be a table: "sha256:..." = 2026-12-08T18:00:00Z'
        )
    for stored, when in expires.items():
        if stored not in hashes:
            raise ConfigError(f"{where}.key_expires: {stored[:19]}... is not one of key_hashes")
        if not isinstance(when, datetime) or when.tzinfo is None:
            raise ConfigError(
                f"{where}.key_expires.{stored[:19]}...: a time with its offset"
                f" (2026-12-08T18:00:00Z), not {when!r}"
            )


ORIGIN_HELP = (
    '%r is not an origin; write it as browsers send it, "https://www.example.com" or'
    ' "http://localhost:3000" (scheme, host, optional port; no path or trailing slash), or "*"'
    " for any"
)


def is_origin(value: Any) -> bool:
    """Whether `value` may be listed in `allowed_origins`: `*` or an origin as browsers send it."""
    return isinstance(value, str) and (value == "*" or ORIGIN.fullmatch(value) is not None)


def _check_origins(where: str, table: Mapping[str, Any]) -> None:
    """`allowed_origins`: `*` or origins as browsers send them; with it, `anonymous_only` must be
    said explicitly, because a key on web pages is public and whether it may name people (as
    analytics.js does after `identify`) is a decision, not a default."""
    origins = table.get("allowed_origins")
    if origins is None:
        return
    if not isinstance(origins, list):
        raise ConfigError(f'{where}.allowed_origins must be a list of origins or ["*"]')
    for index, origin in enumerate(origins):
        if not is_origin(origin):
            raise ConfigError(f"{where}.allowed_origins[{index}]: {ORIGIN_HELP % (origin,)}")
    if "anonymous_only" not in table:
        raise ConfigError(
            f"{where}: a source with allowed_origins has a key on web pages (public): say"
            " anonymous_only = true (anonymous page and track only, like the snippet) or"
            " anonymous_only = false (analytics.js: identify, then every call carries the userId)"
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
