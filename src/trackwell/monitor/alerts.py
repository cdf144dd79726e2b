"""Alerts: findings go to channels once, again when worse or still open, resolved when gone."""

# State is a small JSON file (alerts.json beside the SQLite store), replaced atomically.

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackwell.destinations.http import Transport
from trackwell.io.config import ConfigError
from trackwell.monitor.channels import AlertEvent, Channel, ChannelError, Reason, build_channel
from trackwell.monitor.findings import SEVERITIES, Finding, Severity, rank
from trackwell.monitor.runner import Evaluation
from trackwell.store import sqlite_file

ALERT_KEYS = frozenset(["min_severity", "quiet_minutes", "worsen_margin", "state_file", "channels"])
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """The `[alerts]` table."""

    min_severity: Severity = "warning"
    quiet_minutes: float = 360.0  # an unchanged open alert is sent again after this long
    worsen_margin: float = 0.5  # ... or as soon as its number grows by this share
    state_file: str = ""  # default: alerts.json beside the SQLite store
    channels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def parse_alerts(table: Mapping[str, Any]) -> AlertSettings:
    """Check the `[alerts]` table (channels are checked when built)."""
    unknown = sorted(set(table) - ALERT_KEYS)
    if unknown:
        raise ConfigError(
            f"alerts: unknown key(s) {', '.join(unknown)} (expected {', '.join(sorted(ALERT_KEYS))})"
        )
    severity = table.get("min_severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigError(
            f"alerts.min_severity must be one of {', '.join(SEVERITIES)}, got {severity!r}"
        )
    numbers = {}
    for key, default in (("quiet_minutes", 360.0), ("worsen_margin", 0.5)):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"alerts.{key} must be a number of at least 0, got {value!r}")
        numbers[key] = float(value)
    channels = table.get("channels", {})
    if not isinstance(channels, Mapping) or not all(
        isinstance(v, Mapping) for v in channels.values()
    ):
        raise ConfigError("alerts.channels must be tables: [alerts.channels.NAME]")
    state_file = table.get("state_file", "")
    if not isinstance(state_file, str):
        raise ConfigError("alerts.state_file must be a path")
    return AlertSettings(
        severity, numbers["quiet_minutes"], numbers["worsen_margin"], state_file, channels
    )


def build_channels(
    settings: AlertSettings, environ: Mapping[str, str], transport: Transport | None = None
) -> list[Channel]:
    """Every configured channel (raises ConfigError for a bad table or a missing secret)."""
    return [
        build_channel(name, table, environ, transport) for name, table in settings.channels.items()
    ]


def state_path(settings: AlertSettings, store_url: str, base_dir: Path = Path()) -> Path:
    """Where alert state lives: `state_file`, else `alerts.json` beside the SQLite store file."""
    if settings.state_file:
        path = Path(settings.state_file)
        return path if path.is_absolute() else base_dir / path
    if (file := sqlite_file(store_url)) is not None:
        return Path(file).parent / "alerts.json"
    return Path(".trackwell") / "alerts.json"


def load_state(path: Path) -> dict[str, dict[str, Any]]:
    """Open alerts by finding id; a missing or unreadable file is an empty state."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    alerts = document.get("alerts") if isinstance(document, dict) else None
    return alerts if isinstance(alerts, dict) else {}


def save_state(path: Path, alerts: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the state atomically: a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"version": STATE_VERSION, "alerts": alerts}, indent=1, sort_keys=True)
    handle, temporary = tempfile.mkstemp(prefix=".alerts-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification attempted in a round."""

    channel: str
    event: AlertEvent
    error: str | None = None


class Alerter:
    """Turns each evaluation's findings into notifications, remembering what is open."""

    def __init__(self, settings: AlertSettings, channels: Sequence[Channel], path: Path) -> None:
        self.settings, self.channels, self.path = settings, list(channels), path

    def process(self, evaluation: Evaluation) -> list[Notice]:
        """Trigger, re-trigger and resolve; saves the state; returns what was attempted."""
        now = evaluation.at_ms
        alerts = load_state(self.path)
        notices: list[Notice] = []
        alertable = {
            f.id: f
            for f in evaluation.findings
            if rank(f.severity) >= rank(self.settings.min_severity)
        }
        for finding_id, finding in alertable.items():
            entry = alerts.setdefault(finding_id, _new_entry(finding, now))
            notices.extend(self._trigger(entry, finding, now))
        for finding_id in [i for i in alerts if i not in alertable]:
            entry = alerts[finding_id]
            if entry.get("monitor") in evaluation.errors:
                continue  # a monitor that failed says nothing about its findings
            notices.extend(self._resolve(entry, now))
            if not entry["channels"]:
                del alerts[finding_id]
        save_state(self.path, alerts)
        return notices

    def _trigger(self, entry: dict[str, Any], finding: Finding, now: int) -> list[Notice]:
        reason = _reason(entry, finding, now, self.settings)
        targets = [c for c in self.channels if rank(finding.severity) >= rank(c.min_severity)]
        if reason is None:
            # Unchanged: only channels that have not got it yet (a failed send, a new channel).
            targets = [c for c in targets if c.name not in entry["channels"]]
        event = _event(finding, reason or "new", now)
        notices = [self._send(channel, event) for channel in targets]
        for notice in notices:
            if notice.error is None:
                entry["channels"][notice.channel] = finding.severity
        if reason is not None and any(n.error is None for n in notices):
            entry.update(
                notified_ms=now, notified_severity=finding.severity, notified_value=finding.value
            )
        entry.update(
            title=finding.title, severity=finding.severity, value=finding.value, seen_ms=now
        )
        return notices

    def _resolve(self, entry: dict[str, Any], now: int) -> list[Notice]:
        event = AlertEvent(
            "resolve",
            "resolved",
            _dedup(entry["monitor"], entry["key"]),
            entry["monitor"],
            entry["key"],
            entry["severity"],
            entry["title"],
            at_ms=now,
        )
        notices = [self._send(c, event) for c in self.channels if c.name in entry["channels"]]
        for notice in notices:
            if notice.error is None:
                del entry["channels"][notice.channel]
        # A channel removed from the config cannot be told; forget it.
        known = {c.name for c in self.channels}
        entry["channels"] = {k: v for k, v in entry["channels"].items() if k in known}
        return notices

    def _send(self, channel: Channel, event: AlertEvent) -> Notice:
        try:
            channel.send(event)
        except ChannelError as exc:
            return Notice(channel.name, event, str(exc))
        return Notice(channel.name, event)


def _new_entry(finding: Finding, now: int) -> dict[str, Any]:
    return {
        "monitor": finding.monitor,
        "key": finding.key,
        "title": finding.title,
        "severity": finding.severity,
        "value": finding.value,
        "opened_ms": now,
        "notified_ms": 0,  # never yet: the first successful send is the "new" notification
        "notified_severity": finding.severity,
        "notified_value": finding.value,
        "channels": {},
    }


def _reason(
    entry: Mapping[str, Any], finding: Finding, now: int, settings: AlertSettings
) -> Reason | None:
    """Why to notify every channel again now, or None."""
    if not entry["notified_ms"]:
        return "new"
    if rank(finding.severity) > rank(entry["notified_severity"]):
        return "worse"
    before = float(entry["notified_value"])
    if finding.value > before and finding.value >= before * (1 + settings.worsen_margin):
        return "worse"
    if now - int(entry["notified_ms"]) >= settings.quiet_minutes * 60_000:
        return "reminder"
    return None


def _event(finding: Finding, reason: Reason, now: int) -> AlertEvent:
    return AlertEvent(
        "trigger",
        reason,
        _dedup(finding.monitor, finding.key),
        finding.monitor,
        finding.key,
        finding.severity,
        finding.title,
        finding.explanation,
        finding.numbers,
        now,
    )


def _dedup(monitor: str, key: str) -> str:
    return f"trackwell:{monitor}:{key}"
