"""Alert channels: Slack-compatible webhooks, PagerDuty Events API v2, and signed webhooks."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from trackwell.core.signing import signature_headers
from trackwell.core.time import iso_seconds
from trackwell.destinations.http import HttpRequest, HttpxTransport, Transport, TransportError
from trackwell.io.config import ConfigError
from trackwell.monitor.findings import SEVERITIES, Severity

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
KINDS = ("slack", "pagerduty", "webhook")
CHANNEL_KEYS = frozenset(["type", "min_severity", "url", "timeout"])
_USER_AGENT = "trackwell-alerts"


Reason = Literal["new", "worse", "reminder", "resolved"]


class ChannelError(Exception):
    """An alert that did not get through: no answer, or an answer other than 2xx."""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One notification: a finding that opened, worsened or is still open, or one that cleared."""

    action: Literal["trigger", "resolve"]
    reason: Reason
    dedup_key: str  # `trackwell:<monitor>:<key>`, the same for every notification of one alert
    monitor: str
    key: str
    severity: Severity
    title: str
    explanation: str = ""
    numbers: Mapping[str, Any] = field(default_factory=dict)
    at_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the generic webhook."""
        return {
            "action": self.action,
            "reason": self.reason,
            "dedupKey": self.dedup_key,
            "monitor": self.monitor,
            "key": self.key,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "numbers": dict(self.numbers),
            "at": iso_seconds(self.at_ms),
        }


class Channel(Protocol):
    """Where alerts go."""

    name: str
    min_severity: Severity

    def send(self, event: AlertEvent) -> None:
        """Deliver one notification or raise ChannelError."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class HttpChannel:
    """A channel that POSTs JSON to one URL."""

    kind = "http"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        min_severity: Severity = "warning",
        transport: Transport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name, self.url, self.min_severity, self.timeout = name, url, min_severity, timeout
        self._owned: HttpxTransport | None = None
        if transport is None:
            transport = self._owned = HttpxTransport()
        self._transport = transport

    def close(self) -> None:
        """Close the HTTP pool this channel opened."""
        if self._owned is not None:
            self._owned.close()

    def send(self, event: AlertEvent) -> None:
        """POST the payload; anything but a 2xx answer is a ChannelError."""
        body = json.dumps(self.payload(event), ensure_ascii=False).encode()
        headers = {"content-type": "application/json", "user-agent": _USER_AGENT}
        headers.update(self.headers(body))
        try:
            response = self._transport.send(
                HttpRequest("POST", self.url, headers, body), self.timeout
            )
        except TransportError as exc:
            raise ChannelError(f"{self.name}: {exc}") from None
        if not 200 <= response.status < 300:
            raise ChannelError(f"{self.name}: answered {response.status}: {response.text(200)}")

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        """The JSON document sent."""
        return event.to_dict()

    def headers(self, body: bytes) -> dict[str, str]:
        """Extra headers for this body."""
        return {}


class SlackChannel(HttpChannel):
    """A Slack (or Mattermost, Rocket.Chat) incoming webhook: `{"text": ..., "blocks": [...]}`."""

    kind = "slack"

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        """Text for notifications, blocks for the message itself."""
        if event.action == "resolve":
            text = f"Resolved: {event.title}"
            return {"text": text, "blocks": [_section(f":white_check_mark: *{_escape(text)}*")]}
        mark = {
            "critical": ":rotating_light:",
            "warning": ":warning:",
            "info": ":information_source:",
        }
        prefix = {"new": "", "worse": "Worse: ", "reminder": "Still open: "}.get(event.reason, "")
        text = f"[{event.severity.upper()}] {prefix}{event.title}"
        details = " · ".join(f"{k}: {_short(v)}" for k, v in event.numbers.items())
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": text[:150]}},
            _section(f"{mark[event.severity]} {_escape(event.explanation)}"),
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": _escape(f"{event.monitor} · {event.key} · {details}")[:3000],
                    }
                ],
            },
        ]
        return {"text": text, "blocks": blocks}


class PagerDutyChannel(HttpChannel):
    """PagerDuty Events API v2: trigger and resolve, de-duplicated by the alert's key."""

    kind = "pagerduty"

    def __init__(
        self, name: str, routing_key: str, url: str = PAGERDUTY_URL, **options: Any
    ) -> None:
        super().__init__(name, url, **options)
        self._routing_key = routing_key

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        """An Events API v2 document."""
        document: dict[str, Any] = {
            "routing_key": self._routing_key,
            "event_action": event.action,
            "dedup_key": event.dedup_key[:255],
        }
        if event.action == "trigger":
            document["payload"] = {
                "summary": event.title[:1024],
                "source": f"trackwell@{socket.gethostname()}",
                "severity": event.severity,
                "timestamp": iso_seconds(event.at_ms),
                "component": event.key[:255],
                "class": event.monitor,
                "custom_details": {"explanation": event.explanation, **event.numbers},
            }
            document["client"] = "trackwell"
        return document


class WebhookChannel(HttpChannel):
    """Any URL, with the event as JSON signed with HMAC-SHA256 when a secret is set."""

    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        secret: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        super().__init__(name, url, **options)
        self._secret, self._clock = secret, clock

    def headers(self, body: bytes) -> dict[str, str]:
        """The signature and its timestamp."""
        if not self._secret:
            return {}
        return signature_headers(self._secret, body, self._clock())


def env_name(channel: str, key: str) -> str:
    """`TRACKWELL_ALERT_<CHANNEL>_<KEY>`: where a channel's secrets come from."""
    return f"TRACKWELL_ALERT_{re.sub(r'[^A-Za-z0-9]', '_', channel).upper()}_{key.upper()}"


def build_channel(
    name: str,
    table: Mapping[str, Any],
    environ: Mapping[str, str],
    transport: Transport | None = None,
) -> Channel:
    """A channel from its `[alerts.channels.NAME]` table; URLs with tokens and keys from `environ`."""
    where = f"alerts.channels.{name}"
    kind = table.get("type")
    if kind not in KINDS:
        raise ConfigError(f"{where}.type must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = sorted(set(table) - CHANNEL_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (secrets go in the environment: {env_name(name, 'url')})"
        )
    severity = table.get("min_severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}.min_severity must be one of {', '.join(SEVERITIES)}")
    options: dict[str, Any] = {"min_severity": severity, "transport": transport}
    if "timeout" in table:
        options["timeout"] = float(table["timeout"])
    if kind == "pagerduty":
        url = str(table.get("url") or PAGERDUTY_URL)
        return PagerDutyChannel(name, _needed(environ, name, "routing_key"), url, **options)
    if "url" in table:
        raise ConfigError(
            f"{where}.url holds a token: set {env_name(name, 'url')} in the environment instead"
        )
    url = _needed(environ, name, "url")
    if kind == "slack":
        return SlackChannel(name, url, **options)
    return WebhookChannel(name, url, environ.get(env_name(name, "secret")) or None, **options)


def _needed(environ: Mapping[str, str], channel: str, key: str) -> str:
    value = environ.get(env_name(channel, key))
    if not value:
        raise ConfigError(
            f"alerts.channels.{channel}: set {env_name(channel, key)} in the environment"
        )
    return value


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
