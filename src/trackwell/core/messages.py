"""The message model (the Segment spec): parse, normalise, serialise back losslessly."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeAlias, cast

import orjson

from trackwell.core.ids import new_message_id

# A message in its wire form (the Segment spec's camelCase JSON object), as stored, routed and
# sent; `Message` below is the same message read into Python names.
WireMessage: TypeAlias = Mapping[str, Any]
MessageType: TypeAlias = Literal["identify", "track", "page", "screen", "group", "alias"]
MESSAGE_TYPES: tuple[MessageType, ...] = ("identify", "track", "page", "screen", "group", "alias")

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
MAX_DEPTH = 8
MAX_KEY_LENGTH = 255
MAX_ID_LENGTH = 255
# Numeric ids are taken in the signed 64-bit range (a database key; JavaScript numbers stay well
# inside it): beyond that a number is not an id any client library sends.
MAX_INT_ID = 2**63 - 1
MIN_INT_ID = -(2**63)
# A NUL character ("\u0000", valid JSON) is refused in ids and names, with the field named, rather
# than stored escaped. Ids and names are keys: they index the log, join a person's history and are
# sent to the tools as keys (Customer.io puts the id in a URL path), and PostgreSQL's `text` cannot
# hold NUL at all. Escaping would make two different ids look alike to someone (C strings end at a
# NUL; "a\u0000b" and an escaped "a\\u0000b" would be one person to us and two to a tool), and no
# real id or event name contains one: it is a bug or an attack. Segment's and Customer.io's APIs
# take it, so a client moving to trackwell hears exactly which field to fix. Inside properties,
# traits and context a NUL is data, and is kept: bodies are stored as JSON bytes (escaped), so the
# value round-trips to the tools unchanged.
NUL = "\x00"
NUL_MESSAGE = "contains a NUL character (\\u0000), which ids and names may not hold"

# Numbers below this are Unix seconds (up to year 5138); from here on, milliseconds (from 1973).
_MS_THRESHOLD = 1e11
_MAX_EPOCH_MS = 1e14

# Wire name -> attribute, for the fields the model understands; others go to `extra`.
_ID_FIELDS = {"userId": "user_id", "anonymousId": "anonymous_id", "groupId": "group_id"}
_TIME_FIELDS = {"timestamp": "timestamp", "sentAt": "sent_at", "receivedAt": "received_at"}
_KNOWN = frozenset(
    [
        "type", "messageId", "userId", "anonymousId", "groupId", "previousId", "event", "name",
        "properties", "traits", "context", "integrations", "timestamp", "sentAt", "receivedAt",
        "originalTimestamp",
    ]
)  # fmt: skip


class MessageError(ValueError):
    """A message that cannot be parsed: a stable code, the field path, and what is wrong."""

    def __init__(self, code: str, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.code = code
        self.path = path
        self.message = message


@dataclass(slots=True)
class Message:
    """One Segment-spec message. Python names are snake_case; the wire stays camelCase."""

    type: MessageType
    message_id: str = ""
    user_id: str | None = None
    anonymous_id: str | None = None
    event: str | None = None
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    group_id: str | None = None
    previous_id: str | None = None
    timestamp: datetime | None = None
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    received_at: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)
    integrations: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    timestamp_missing: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle fast (version 1 of the SDK's spill file used it): UTC times travel as integer microseconds, which
        pickle several times faster than datetimes with a tzinfo."""
        return (
            _unpickle_message,
            (
                self.type, self.message_id, self.user_id, self.anonymous_id, self.event, self.name,
                self.properties, self.traits, self.group_id, self.previous_id,
                _pickled_time(self.timestamp), _pickled_time(self.original_timestamp),
                _pickled_time(self.sent_at), _pickled_time(self.received_at),
                self.context, self.integrations, self.extra, self.timestamp_missing,
            ),
        )  # fmt: skip

    @property
    def payload(self) -> dict[str, Any]:
        """The user data of the message: traits for identify and group, properties otherwise."""
        return self.traits if self.type in ("identify", "group") else self.properties

    @property
    def label(self) -> str:
        """What a person calls this message: the event or page name, or its type."""
        return self.event or self.name or self.type

    def copy(self) -> Message:
        """A copy whose payload and context can be changed without touching this one."""
        return Message(
            type=self.type,
            message_id=self.message_id,
            user_id=self.user_id,
            anonymous_id=self.anonymous_id,
            event=self.event,
            name=self.name,
            properties=_deep_copy(self.properties),
            traits=_deep_copy(self.traits),
            group_id=self.group_id,
            previous_id=self.previous_id,
            timestamp=self.timestamp,
            original_timestamp=self.original_timestamp,
            sent_at=self.sent_at,
            received_at=self.received_at,
            context=_deep_copy(self.context),
            integrations=_deep_copy(self.integrations),
            extra=_deep_copy(self.extra),
            timestamp_missing=self.timestamp_missing,
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _pickled_time(value: datetime | None) -> datetime | int | None:
    if value is not None and value.tzinfo is UTC:
        return (value - _EPOCH) // _MICROSECOND
    return value


def _unpickle_message(*values: Any) -> Message:
    """The inverse of `Message.__reduce__` (times are the only ints among the time fields)."""
    message = Message(*values)
    for name in ("timestamp", "original_timestamp", "sent_at", "received_at"):
        value = getattr(message, name)
        if type(value) is int:
            setattr(message, name, _EPOCH + value * _MICROSECOND)
    return message


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


# -- parsing --------------------------------------------------------------------------------


def parse_time(value: Any, path: str) -> datetime:
    """ISO-8601 (with offset or Z), Unix seconds, or Unix milliseconds, as an aware UTC datetime."""
    if isinstance(value, bool):
        raise MessageError("malformed", path, "expected a timestamp, got a boolean")
    if isinstance(value, int | float):
        return _from_epoch(float(value), path)
    if isinstance(value, str):
        text = value.strip()
        if text and _EPOCH_TEXT.match(text) and _is_number(text):
            return _from_epoch(float(text), path)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise MessageError(
                "malformed", path, f"expected ISO-8601 or Unix time, got {shown(value)}"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # Segment reads offset-less times as UTC
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+00:04, before the first representable UTC
            raise MessageError(
                "malformed", path, "the time is out of range (in UTC, before year 1 or after 9999)"
            ) from None
    raise MessageError("malformed", path, f"expected a timestamp, got {_json_type(value)}")


# Unix time sent as text ("1700000000", "1.7e9", "-5"); an ISO date ("2026-...") never matches,
# so it is not first tried as a float (an exception per message).
_EPOCH_TEXT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_DIGIT = re.compile(r"\d")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_+/=]{12,}")


def shown(value: str) -> str:
    """A value quoted in an error message, which reaches answers, logs and the store: cut to 40
    characters, digits masked when there are enough to be a card or id number, and long
    token-like runs cut short, so a secret sent in the wrong field is never repeated."""
    text = value if len(value) <= 40 else value[:37] + "..."
    if len(_DIGIT.findall(text)) >= 9:
        text = _DIGIT.sub("#", text)
    return repr(_TOKEN_RUN.sub(lambda run: run.group()[:4] + "...", text))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _from_epoch(number: float, path: str) -> datetime:
    if not math.isfinite(number) or number < 0 or number >= _MAX_EPOCH_MS:
        raise MessageError("malformed", path, f"Unix time {number:g} is out of range")
    seconds = number / 1000 if number >= _MS_THRESHOLD else number
    return datetime.fromtimestamp(seconds, UTC)


def format_time(value: datetime) -> str:
    """ISO-8601 in UTC with a Z: milliseconds as Segment writes them, microseconds when present."""
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond % 1000 == 0 else "microseconds"
    return utc.isoformat(timespec=spec)[:-6] + "Z"  # drop "+00:00"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for an error message ("a number", "an object")."""
    return _json_type(value)


def _identifier(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        # 1104.0 is the integer 1104 to JSON Schema (and to JavaScript); beyond 2^53 a float is
        # not exact (the JSON parser reads integers past 64 bits as floats), so it is refused.
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageError("malformed", path, f"expected a string, got {_json_type(value)}")
    if isinstance(value, int) and not MIN_INT_ID <= value <= MAX_INT_ID:
        raise MessageError("malformed", path, "a numeric id must fit in a signed 64-bit integer")
    text = str(value)  # analytics.js and many SDKs send numeric ids; Segment stringifies them
    if len(text) > MAX_ID_LENGTH:
        raise MessageError("malformed", path, f"longer than {MAX_ID_LENGTH} characters")
    if NUL in text:
        raise MessageError("malformed", path, NUL_MESSAGE)
    return text


def _object(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError("malformed", path, f"expected an object, got {_json_type(value)}")
    if not _shape_ok(value, 1):
        _check_shape(value, path, 1)  # raises, with the path of the first offender
    return value


def _shape_ok(value: dict[str, Any] | list[Any], depth: int) -> bool:
    """Whether `_check_shape` would pass; builds no paths (every message takes this walk)."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
                return False
            if isinstance(item, _CONTAINERS) and not _shape_ok(item, depth + 1):
                return False
    else:
        for item in value:
            if isinstance(item, _CONTAINERS) and not _shape_ok(item, depth + 1):
                return False
    return True


_CONTAINERS = (dict, list)


def _check_shape(value: Any, path: str, depth: int) -> None:
    """Nesting depth and key length limits, with the path of the first offender."""
    if depth > MAX_DEPTH:
        raise MessageError("too_deep", path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MessageError("malformed", path, "object keys must be strings")
            if len(key) > MAX_KEY_LENGTH:
                raise MessageError(
                    "key_too_long",
                    f"{path}.{key[:40]}...",
                    f"key longer than {MAX_KEY_LENGTH} characters",
                )
            if isinstance(item, dict | list):
                _check_shape(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                _check_shape(item, f"{path}[{index}]", depth + 1)


def check_limits(message: Message) -> MessageError | None:
    """Nesting and key-length limits of a message built in Python (the parser checks its own)."""
    for wire, value in (
        ("userId", message.user_id),
        ("anonymousId", message.anonymous_id),
        ("messageId", message.message_id),
        ("groupId", message.group_id),
        ("previousId", message.previous_id),
    ):
        if value is not None and len(value) > MAX_ID_LENGTH:
            return MessageError("malformed", wire, f"longer than {MAX_ID_LENGTH} characters")
        if value is not None and NUL in value:
            return MessageError("malformed", wire, NUL_MESSAGE)
    for wire, value in (("event", message.event), ("name", message.name)):
        if isinstance(value, str) and NUL in value:
            return MessageError("malformed", wire, NUL_MESSAGE)
    try:
        for name in ("properties", "traits", "context"):
            value = getattr(message, name)
            if isinstance(value, dict) and value and not _shape_ok(value, 1):
                _check_shape(value, name, 1)  # raises, with the path of the first offender
    except MessageError as exc:
        return exc
    except RecursionError:
        return MessageError("too_deep", "", f"nested deeper than {MAX_DEPTH} levels")
    return None


def from_json(data: Any, *, size: int | None = None) -> Message:
    """A Message from a decoded JSON object (camelCase wire names); raises MessageError."""
    if size is not None and size > MAX_MESSAGE_BYTES:
        raise MessageError(
            "too_large",
            "",
            f"message is {size / 1024:.1f} KB; the limit is {MAX_MESSAGE_BYTES // 1024} KB",
        )
    if not isinstance(data, dict):
        raise MessageError("malformed", "", f"expected a JSON object, got {_json_type(data)}")
    kind = data.get("type")
    if kind not in MESSAGE_TYPES:
        found = "missing" if kind is None else shown(kind) if isinstance(kind, str) else "not text"
        raise MessageError(
            "malformed",
            "type",
            f"unknown message type {found} (expected one of {', '.join(MESSAGE_TYPES)})",
        )
    message = Message(type=cast(MessageType, kind))
    message_id = _identifier(data.get("messageId"), "messageId")
    message.message_id = message_id or ""
    for wire, attr in _ID_FIELDS.items():
        setattr(message, attr, _identifier(data.get(wire), wire))
    message.previous_id = _identifier(data.get("previousId"), "previousId")
    for wire, attr in _TIME_FIELDS.items():
        raw = data.get(wire)
        if raw is not None:
            setattr(message, attr, parse_time(raw, wire))
    if data.get("originalTimestamp") is not None:
        message.original_timestamp = parse_time(data["originalTimestamp"], "originalTimestamp")
    message.context = _object(data.get("context"), "context")
    message.integrations = _object(data.get("integrations"), "integrations")
    # Both are checked whatever the type: the one a type does not read is still no object of
    # another kind (an identify's `properties` as an array is a broken message, not ignored).
    traits = _object(data.get("traits"), "traits")
    properties = _object(data.get("properties"), "properties")
    if kind in ("identify", "group"):
        message.traits = traits
    else:
        message.properties = properties
    _type_fields(message, data)
    message.extra = {k: v for k, v in data.items() if k not in _KNOWN}
    return message


def _type_fields(message: Message, data: Mapping[str, Any]) -> None:
    kind = message.type
    if kind == "track":
        event = data.get("event")
        if not isinstance(event, str) or not event.strip():
            found = "missing" if event is None else _json_type(event)
            raise MessageError("malformed", "event", f"a track call needs an event name ({found})")
        if len(event) > MAX_KEY_LENGTH:
            raise MessageError("malformed", "event", f"longer than {MAX_KEY_LENGTH} characters")
        if NUL in event:
            raise MessageError("malformed", "event", NUL_MESSAGE)
        message.event = event
    elif kind in ("page", "screen"):
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise MessageError("malformed", "name", f"expected a string, got {_json_type(name)}")
        if name is not None and NUL in name:
            raise MessageError("malformed", "name", NUL_MESSAGE)
        message.name = name
    elif kind == "group" and not message.group_id:
        raise MessageError("malformed", "groupId", "a group call needs a groupId")
    elif kind == "alias" and not message.previous_id:
        raise MessageError("malformed", "previousId", "an alias call needs a previousId")


_SNAKE_TO_WIRE = {
    "message_id": "messageId",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "group_id": "groupId",
    "previous_id": "previousId",
    "sent_at": "sentAt",
    "received_at": "receivedAt",
    "original_timestamp": "originalTimestamp",
}


def from_python(data: Mapping[str, Any]) -> Message:
    """A Message from snake_case keys (`user_id=`, `message_id=`), as Python callers write them."""
    wire = {_SNAKE_TO_WIRE.get(key, key): value for key, value in data.items()}
    for key, value in wire.items():
        if isinstance(value, datetime):
            wire[key] = value.isoformat() if value.tzinfo else value.replace(tzinfo=UTC).isoformat()
    return from_json(wire)


# -- normalisation --------------------------------------------------------------------------


def normalise(message: Message, received_at: datetime | None = None) -> Message:
    """Stamp receivedAt, fill messageId, settle the action time and identify traits; same message."""
    received = received_at or datetime.now(UTC)
    message.received_at = received
    if not message.message_id:
        message.message_id = new_message_id()
    if message.type == "identify" and not message.traits:
        # RudderStack's event spec (Identify) and its JavaScript and Python SDKs send an
        # identify's traits only as context.traits; without this the profile would get none.
        # The context keeps its copy, so the message still reads back as it was sent.
        in_context = message.context.get("traits")
        if isinstance(in_context, dict) and in_context:
            message.traits = _deep_copy(in_context)
    # The client's own action time: `timestamp`, or else `originalTimestamp`, which RudderStack's
    # SDKs stamp at call time instead (their event spec lists it, not `timestamp`, as required).
    # With both, `timestamp` wins and `originalTimestamp` is kept as sent.
    client_time, field_name = message.timestamp, "timestamp"
    if client_time is None and message.original_timestamp is not None:
        client_time, field_name = message.original_timestamp, "originalTimestamp"
    if client_time is None:
        message.timestamp = received
        message.timestamp_missing = True
    elif message.sent_at is None:
        message.timestamp = client_time  # nothing to measure the client's clock against
    else:
        # The client's clock may be off; its own sentAt - action time distance is trustworthy.
        # Segment's spec (Common fields, Timestamps): receivedAt - (sentAt - originalTimestamp).
        message.original_timestamp = message.original_timestamp or client_time
        try:
            message.timestamp = received - (message.sent_at - client_time)
        except OverflowError:
            # sentAt and the action time centuries apart: the correction would leave the calendar.
            raise MessageError(
                "malformed",
                "sentAt",
                f"sentAt and {field_name} are too far apart to correct clock skew",
            ) from None
    return message


def clock_skew(message: Message) -> timedelta | None:
    """How far the client's clock was off (sentAt - receivedAt), when known."""
    if message.sent_at is None or message.received_at is None:
        return None
    return message.sent_at - message.received_at


# -- serialisation --------------------------------------------------------------------------


def to_json(message: Message) -> dict[str, Any]:
    """The message in wire form (camelCase, ISO-8601 UTC times); `from_json` reads it back."""
    return _wire(message, format_time)


def encode(message: Message) -> bytes:
    """The wire form as JSON bytes; orjson formats the times (the hot path of every store)."""
    return orjson.dumps(_wire(message, _same), option=orjson.OPT_UTC_Z)


def _same(value: datetime) -> datetime:
    return value


def _wire(message: Message, time_format: Callable[[datetime], Any]) -> dict[str, Any]:
    data: dict[str, Any] = dict(message.extra)
    data["type"] = message.type
    data["messageId"] = message.message_id
    if message.user_id is not None:
        data["userId"] = message.user_id
    if message.anonymous_id is not None:
        data["anonymousId"] = message.anonymous_id
    if message.event is not None:
        data["event"] = message.event
    if message.name is not None:
        data["name"] = message.name
    if message.group_id is not None:
        data["groupId"] = message.group_id
    if message.previous_id is not None:
        data["previousId"] = message.previous_id
    if message.type in ("identify", "group"):
        data["traits"] = message.traits
    elif message.type != "alias" or message.properties:
        data["properties"] = message.properties
    for attr, wire in (
        ("timestamp", "timestamp"),
        ("original_timestamp", "originalTimestamp"),
        ("sent_at", "sentAt"),
        ("received_at", "receivedAt"),
    ):
        value = getattr(message, attr)
        if value is not None:
            data[wire] = time_format(value)
    if message.context:
        data["context"] = message.context
    if message.integrations:
        data["integrations"] = message.integrations
    return data
