"""Shared pieces of the HTTP destinations: auth, JSON, times, ids, packing and the base class."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Unpack
from urllib.parse import urlsplit

import orjson

from trackwell.core.delivery import DeliveryFilter
from trackwell.core.ids import event_ulid
from trackwell.core.messages import MESSAGE_TYPES, MessageError, WireMessage, parse_time
from trackwell.core.operations import OPERATIONS, operation_of
from trackwell.core.outcomes import Outcome
from trackwell.core.version import __version__
from trackwell.destinations.base import (
    Destination,
    DestinationSettings,
    Outgoing,
    Prepared,
    SettingKeywords,
    settings_from,
)
from trackwell.destinations.http import HttpRequest, HttpResponse
from trackwell.destinations.retry import classify

log = logging.getLogger("trackwell.destinations")

USER_AGENT = f"trackwell/{__version__}"


class UnsendableError(Exception):
    """A message this destination can never deliver (too large, missing ids): dead, with why."""


@dataclass(frozen=True, slots=True)
class Credential:
    """A constructor argument a destination needs to send, and what may stand in for it."""

    argument: str
    instead: tuple[str, ...] = ()  # arguments that together replace it (e.g. a service account)

    def described(self) -> str:
        """`api_secret (or service_account_username and service_account_secret)`."""
        alternative = f" (or {' and '.join(self.instead)})" if self.instead else ""
        return self.argument + alternative


class MissingCredentialsError(ValueError):
    """A destination asked to send without its credentials and not told to capture instead."""

    def __init__(self, name: str, kind: str, missing: Sequence[Credential]) -> None:
        self.name, self.kind, self.missing = name, kind, tuple(missing)
        needed = ", ".join(c.described() for c in self.missing)
        super().__init__(
            f"{kind} destination {name!r} cannot send without {needed}: pass them, or "
            "capture=True to record requests without sending (their outcome is then captured)"
        )


def required(**given: str | None) -> list[Credential]:
    """The credentials among `given` that are missing or empty."""
    return [Credential(argument) for argument, value in given.items() if not value]


def env_var(name: str, key: str) -> str:
    """The environment variable for one setting of a destination: `TRACKWELL_<NAME>_<KEY>`."""
    return f"TRACKWELL_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}_{key.upper()}"


def basic_auth(user: str, password: str) -> str:
    """An `Authorization` header value for HTTP Basic auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def json_bytes(value: Any) -> bytes:
    """Compact JSON; raises UnsendableError for what JSON cannot carry (e.g. integers over 64 bits)."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise UnsendableError(f"cannot be encoded as JSON: {exc}") from None


def json_headers(**extra: str) -> dict[str, str]:
    """Content-Type and User-Agent, plus any extra headers."""
    return {"content-type": "application/json", "user-agent": USER_AGENT, **extra}


def size_of(value: Any) -> int:
    """Bytes a value takes on the wire: UTF-8 for strings, encoded JSON for anything else."""
    if isinstance(value, str):
        return len(value.encode())
    return len(json_bytes(value))


def pack(
    parts: Sequence[tuple[int, bytes]], *, max_count: int, max_bytes: int, overhead: int = 64
) -> list[list[tuple[int, bytes]]]:
    """Group encoded items, in order, into requests of at most `max_count` items and `max_bytes`."""
    groups: list[list[tuple[int, bytes]]] = []
    current: list[tuple[int, bytes]] = []
    used = overhead
    for item in parts:
        cost = len(item[1]) + 1  # the comma
        if current and (len(current) >= max_count or used + cost > max_bytes):
            groups.append(current)
            current, used = [], overhead
        current.append(item)
        used += cost
    if current:
        groups.append(current)
    return groups


def action_time(message: WireMessage) -> datetime:
    """When the action happened: `timestamp`, else `originalTimestamp`, else `receivedAt`."""
    for key in ("timestamp", "originalTimestamp", "receivedAt"):
        raw = message.get(key)
        if raw is not None:
            try:
                return parse_time(raw, key)
            except MessageError as exc:
                raise UnsendableError(str(exc)) from None
    return datetime.now(UTC)  # stored messages always carry one; this is for hand-made batches


def epoch_seconds(message: WireMessage) -> int:
    """The action time as integer Unix seconds."""
    return int(action_time(message).timestamp())


def epoch_ms(message: WireMessage) -> int:
    """The action time as integer Unix milliseconds."""
    return int(action_time(message).timestamp() * 1000)


def to_epoch_seconds(value: Any) -> Any:
    """An ISO-8601 or Unix time as integer seconds; other values are returned unchanged."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    try:
        return int(parse_time(value, "").timestamp())
    except MessageError:
        return value


def ulid_from(message_id: str, when: datetime) -> str:
    """A ULID that is the same on every retry: 48-bit time of `when`, 80 bits hashed from the id."""
    return event_ulid(message_id, int(when.timestamp() * 1000))


def within(size: int, limit: int, what: str, unit: str = "") -> None:
    """Refuse (UnsendableError) what is over the tool's documented limit, saying by how much."""
    if size > limit:
        amount = f"{size:,} {unit}".rstrip()
        raise UnsendableError(f"{what} is {amount}; the limit is {limit:,}")


def message_id(message: WireMessage) -> str:
    """The message id, which every tool's de-duplication key is made from."""
    if not message.get("messageId"):
        raise UnsendableError("message has no messageId, so the tool could not de-duplicate it")
    return str(message["messageId"])


def one_of(setting: str, value: str, allowed: Iterable[str]) -> str:
    """A setting's value if allowed, else a ValueError naming the choices."""
    if value not in allowed:
        raise ValueError(f"{setting} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def page_event_name(message: WireMessage) -> str:
    """Segment's naming for page and screen views in analytics tools: `Viewed Home Page`."""
    noun = "Screen" if message.get("type") == "screen" else "Page"
    name = message.get("name")
    return f"Viewed {name} {noun}" if name else f"Loaded a {noun}"


def response_json(response: HttpResponse) -> Any:
    """The body as JSON, or None when it is not JSON."""
    try:
        return orjson.loads(response.body) if response.body else None
    except orjson.JSONDecodeError:
        return None


def tool_error(response: HttpResponse) -> str:
    """The tool's own words for an error: a known JSON error field, else the raw body."""
    data = response_json(response)
    if isinstance(data, dict):
        meta = data.get("meta")
        if isinstance(meta, dict) and meta.get("error"):
            return str(meta["error"])  # Customer.io
        for key in ("error", "message"):
            if data.get(key):
                return str(data[key])
        errors = data.get("errors")
        if isinstance(errors, list):
            # Segment's Public API: `{"errors": [{"type", "message"}]}`.
            words = [str(e["message"]) for e in errors if isinstance(e, dict) and e.get("message")]
            if words:
                return "; ".join(words)
    return response.text()


def classify_response(response: HttpResponse) -> Outcome:
    """The base retry classification, quoting the tool's error text."""
    return classify(response.status, response.headers, tool_error(response))


class HttpDestination(Destination):
    """A Destination with a base URL, credentials (or capture mode, chosen explicitly), and limits."""

    default_base_url: ClassVar[str] = ""
    supported_types: frozenset[str] = frozenset(MESSAGE_TYPES)  # per instance where modes differ
    # The operations (`trackwell.core.operations`: deletes, suppression, devices) this tool performs;
    # the others are never for it, so none is reported delivered without having been done.
    operations: frozenset[str] = frozenset()

    def __init__(
        self,
        name: str | None = None,
        *,
        missing: Sequence[Credential],
        base_url: str | None = None,
        settings: DestinationSettings | None = None,
        **keywords: Unpack[SettingKeywords],
    ) -> None:
        chosen = settings_from(settings, keywords)
        if chosen.capture:
            log.info(
                "destination %s in capture mode: requests are recorded, not sent",
                name or self.kind,
            )
        elif chosen.transport is None and missing:
            # Nothing could be sent: refuse to start rather than report messages as handled.
            raise MissingCredentialsError(name or self.kind, self.kind, missing)
        base = chosen.filter or DeliveryFilter()
        filter = DeliveryFilter(
            # No list of types means every type this tool can take, so no call is sent in vain.
            self.supported_types if base.types is None else base.types,
            # An `events` list chooses among the plan's events; the operations the tool performs
            # (a delete, a device) are not events of the plan and must not be dropped by it.
            None if base.events is None else base.events | self.operations,
            base.exclude_events | (OPERATIONS - self.operations),
        )
        super().__init__(name, settings=replace(chosen, filter=filter))
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http:// or https:// URL, got {self.base_url!r}")

    def url(self, path: str) -> str:
        """An absolute URL under `base_url`."""
        return self.base_url + path

    def tool_settings(self) -> dict[str, Any]:
        """This tool's own settings for `describe` (never credentials)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Settings for `trackwell deliveries`: never credentials, and no secrets from URLs."""
        described = super().describe()
        described["base_url"] = public_url(self.base_url)
        described["capture"] = self.capture
        described.update(self.tool_settings())
        return described

    def mapped(
        self,
        messages: Sequence[WireMessage],
        prepared: Prepared,
        to_wire: Callable[[WireMessage], Any],
    ) -> list[tuple[int, Any]]:
        """Each message this tool takes, mapped; unsupported and unsendable ones refused as dead."""
        result: list[tuple[int, Any]] = []
        for index, message in enumerate(messages):
            kind = message.get("type")
            try:
                if kind not in self.supported_types:
                    raise UnsendableError(
                        f"{self.kind} has no equivalent of the {kind} call "
                        f"(leave {kind} out of this destination's types)"
                    )
                operation = operation_of(kind, message.get("event"))
                if operation is not None and operation not in self.operations:
                    # The filter keeps these from the queue; a backfill hands them over directly.
                    raise UnsendableError(
                        f"{self.kind} cannot perform '{operation}' (no equivalent call), so it"
                        " was not sent"
                    )
                result.append((index, to_wire(message)))
            except UnsendableError as exc:
                prepared.refused[index] = dead(str(exc))
        return result

    def batched(
        self,
        prepared: Prepared,
        items: Iterable[tuple[int, Any]],
        request: Callable[[bytes], HttpRequest],
        *,
        max_count: int,
        max_bytes: int,
        max_item_bytes: int | None = None,
        head: bytes = b"",
        tail: bytes = b"",
        what: str = "the message",
    ) -> None:
        """Encode items, refuse those over the item limit, and add a request per group within
        `max_count` and `max_bytes` (its body: head, the JSON array, tail)."""
        overhead = len(head) + len(tail) + 2
        limit = max_bytes - overhead if max_item_bytes is None else max_item_bytes
        encoded: list[tuple[int, bytes]] = []
        for index, item in items:
            try:
                data = json_bytes(item)
                within(len(data), limit, what, "bytes")
            except UnsendableError as exc:
                prepared.refused[index] = dead(str(exc))
                continue
            encoded.append((index, data))
        for group in pack(encoded, max_count=max_count, max_bytes=max_bytes, overhead=overhead):
            body = head + b"[" + b",".join(data for _, data in group) + b"]" + tail
            prepared.requests.append(Outgoing(request(body), tuple(i for i, _ in group)))


def public_url(url: str) -> str:
    """A URL safe to show: scheme, host and port only (paths and queries can carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def dead(reason: str) -> Outcome:
    """A message that can never be delivered, with the reason."""
    return Outcome("dead", reason)
