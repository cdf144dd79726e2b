"""The SDK's spill file format: versioned and self-describing, so a crash file outlives an upgrade.

A header line `{"format":"trackwell-spill","version":2}`, then one JSON object per line with every
field named (`SPILL_FORMAT_VERSION`). A file of a version this code does not know is never guessed
at (`UnreadableSpillError`; the outbox keeps it aside). Files of version 1 (length-prefixed
pickles of positional fields, before the header existed) are still read, through an unpickler
that knows only version 1's classes and field orders.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import pickle
import struct
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, BinaryIO

import orjson

from trackwell.core.messages import Message
from trackwell.core.violations import Violation
from trackwell.store.base import Checked

log = logging.getLogger("trackwell.sdk.outbox")  # the outbox's logger: users filter on it

# The spill file's format. Bump the version whenever a record's fields change meaning or shape;
# a reader refuses (and keeps) files of a version it does not know.
SPILL_FORMAT = "trackwell-spill"
SPILL_FORMAT_VERSION = 2
SPILL_HEADER = orjson.dumps({"format": SPILL_FORMAT, "version": SPILL_FORMAT_VERSION}) + b"\n"
_MAGIC = b'{"format":"trackwell-spill"'
# Version 1 had no header: each record was a 4-byte big-endian length, then a pickle.
_V1_FRAME = struct.Struct(">I")


class UnreadableSpillError(ValueError):
    """A spill file of a format or version this code does not know (kept, never guessed at)."""


_MESSAGE_FIELDS = tuple(f.name for f in fields(Message))
_TIME_FIELDS = frozenset(("timestamp", "original_timestamp", "sent_at", "received_at"))
_INT64 = (-(2**63), 2**63 - 1)


def encode_spill_record(ticket: int, checked: Checked) -> bytes:
    """One spill record (version 2): a JSON line with every field named."""
    message = checked.message
    record: dict[str, Any] = {
        "ticket": ticket,
        "verdict": checked.verdict,
        "source": checked.source,
        "violations": [v.to_dict() for v in checked.violations],
        "message": {name: getattr(message, name) for name in _MESSAGE_FIELDS},
    }
    try:
        record["body"] = checked.body.decode("utf-8")
    except UnicodeDecodeError:
        record["body_base64"] = base64.b64encode(checked.body).decode("ascii")
    try:
        # orjson writes times in ISO 8601 with their offset and microseconds, read back exactly.
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except (TypeError, orjson.JSONEncodeError):
        # Values JSON cannot carry (integers beyond 64 bits, non-string keys, objects): only a
        # blocked message can hold them (`prepare` blocks what it cannot encode), and the store
        # keeps only its summary body, ids and names. Its payload is written as near as JSON
        # allows, and the record says so.
        record["message"] = {
            name: value if name in _TIME_FIELDS else _json_ready(value)
            for name, value in record["message"].items()
        }
        record["lossy"] = True
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE, default=_type_marker)


def _type_marker(value: Any) -> str:
    """A JSON stand-in for an object JSON cannot carry: its type, never its repr (secrets)."""
    return f"[unserialisable:{type(value).__name__}]"


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return _type_marker(value)


def decode_spill_record(line: bytes) -> tuple[int, Checked]:
    """The inverse of `encode_spill_record`; raises ValueError for a record it cannot read."""
    try:
        data = orjson.loads(line)
        fields_ = data["message"]
        unknown = set(fields_) - set(_MESSAGE_FIELDS)
        if unknown:
            raise ValueError(f"unknown message fields {sorted(unknown)}")
        for name in _TIME_FIELDS:
            if fields_.get(name) is not None:
                fields_[name] = datetime.fromisoformat(fields_[name])
        body = (
            data["body"].encode("utf-8")
            if "body" in data
            else base64.b64decode(data["body_base64"], validate=True)
        )
        checked = Checked(
            Message(**fields_),
            data["verdict"],
            tuple(Violation(**v) for v in data["violations"]),
            body,
            data["source"],
        )
        ticket = data["ticket"]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a spill record ({exc})") from None
    if not isinstance(ticket, int):
        raise ValueError("not a spill record (ticket)")
    return ticket, checked


def spill_version(head: bytes) -> int | None:
    """The format version of a spill file from its first bytes; None if empty or torn before its
    first record. Raises `UnreadableSpillError` for anything else."""
    if not head or (len(head) < len(SPILL_HEADER) and SPILL_HEADER.startswith(head)):
        return None  # a writer died before its first write finished: nothing in it
    if head.startswith(_MAGIC):
        line, newline, _ = head.partition(b"\n")
        try:
            header = orjson.loads(line) if newline else None
        except orjson.JSONDecodeError:
            header = None
        version = header.get("version") if isinstance(header, dict) else None
        if not isinstance(version, int):
            raise UnreadableSpillError("its header line is damaged")
        if version != SPILL_FORMAT_VERSION:
            raise UnreadableSpillError(
                f"it is in spill format version {version}, and this trackwell reads versions 1"
                f" and {SPILL_FORMAT_VERSION} (it was written by a newer trackwell)"
                if version > SPILL_FORMAT_VERSION
                else f"it is in an unknown spill format version {version}"
            )
        return version
    # Version 1: a length (a record is at most a few hundred KB, so its first byte is 0) and
    # then a pickle, which starts with the PROTO opcode.
    if len(head) >= _V1_FRAME.size + 1 and head[0] == 0 and head[_V1_FRAME.size] == 0x80:
        return 1
    raise UnreadableSpillError("it is not in any spill format this trackwell knows")


# Enough for the header line and the first bytes of a version 1 record.
_HEAD_BYTES = len(SPILL_HEADER) + 16


def read_spill_records(
    handle: BinaryIO, offset: int, limit: int, name: str
) -> tuple[list[tuple[int, Checked]], int]:
    """Up to `limit` complete records of an open spill file from `offset` (0: the start)."""
    version = spill_version(handle.read(_HEAD_BYTES))
    out: list[tuple[int, Checked]] = []
    if version is None:
        return out, offset
    if version == 1:
        return _read_v1(handle, offset, limit, name)
    handle.seek(0)
    header_end = len(handle.readline())  # the header line, checked by `spill_version`
    handle.seek(max(offset, header_end))
    offset = handle.tell()
    while len(out) < limit:
        line = handle.readline()
        if not line.endswith(b"\n"):
            break  # nothing more, or a record still being written (or torn by a crash)
        try:
            out.append(decode_spill_record(line))
        except ValueError as exc:
            _skipped(name, offset, exc)
        offset += len(line)
    return out, offset


def _read_v1(
    handle: BinaryIO, offset: int, limit: int, name: str
) -> tuple[list[tuple[int, Checked]], int]:
    """Records of a version 1 file: length-prefixed pickles of positional fields."""
    out: list[tuple[int, Checked]] = []
    handle.seek(offset)
    while len(out) < limit:
        header = handle.read(_V1_FRAME.size)
        if len(header) < _V1_FRAME.size:
            break
        (length,) = _V1_FRAME.unpack(header)
        payload = handle.read(length)
        if len(payload) < length:
            break
        offset += _V1_FRAME.size + length
        try:
            ticket, checked = _V1Unpickler(io.BytesIO(payload)).load()
            if not isinstance(checked, Checked) or not isinstance(ticket, int):
                raise ValueError("not a spill record")
            out.append((ticket, checked))
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError) as exc:
            _skipped(name, offset, exc)
    return out, offset


def _skipped(name: str, offset: int, exc: Exception) -> None:
    # A damaged record in the middle of a file (not a torn last one): said, never silent.
    log.warning(
        "trackwell outbox: skipped an unreadable record in %s at offset %d: %s", name, offset, exc
    )


# Version 1's positional layouts, pinned here: they must not follow later changes to the classes.
_V1_MESSAGE_FIELDS = (
    "type", "message_id", "user_id", "anonymous_id", "event", "name", "properties", "traits",
    "group_id", "previous_id", "timestamp", "original_timestamp", "sent_at", "received_at",
    "context", "integrations", "extra", "timestamp_missing",
)  # fmt: skip
_V1_CHECKED_FIELDS = ("message", "verdict", "violations", "body", "source")
_V1_VIOLATION_FIELDS = ("code", "path", "message", "effect", "suggestion", "kind")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _v1_message(*values: Any) -> Message:
    data = dict(zip(_V1_MESSAGE_FIELDS, values, strict=True))
    for name in _TIME_FIELDS:
        if type(data[name]) is int:  # UTC times were written as microseconds since the epoch
            data[name] = _EPOCH + timedelta(microseconds=data[name])
    return Message(**data)


def _v1_checked(*values: Any) -> Checked:
    data = dict(zip(_V1_CHECKED_FIELDS, values, strict=True))
    data["violations"] = tuple(
        Violation(**dict(zip(_V1_VIOLATION_FIELDS, v.state, strict=True)))
        for v in data["violations"]
    )
    return Checked(**data)


class _V1Violation:
    """Stands in for a version 1 pickled Violation: keeps its positional state."""

    state: list[Any]

    def __setstate__(self, state: Any) -> None:
        self.state = list(state)  # dataclass(slots=True) pickles its fields as a list


# Every name a version 1 record refers to, and what reads it now.
_V1_NAMES: dict[tuple[str, str], Any] = {
    ("trackwell.store.base", "Checked"): _v1_checked,
    ("trackwell.messages", "_unpickle_message"): _v1_message,
    ("trackwell.quality.violations", "Violation"): _V1Violation,
    ("datetime", "datetime"): datetime,
    ("datetime", "timezone"): timezone,
    ("datetime", "timedelta"): timedelta,
}


class _V1Unpickler(pickle.Unpickler):
    """Reads version 1 records and nothing else: only the names version 1 wrote are allowed."""

    def find_class(self, module: str, name: str) -> Any:
        """The stand-in for a name version 1 wrote; refuses every other name."""
        try:
            return _V1_NAMES[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not in a version 1 record") from None
