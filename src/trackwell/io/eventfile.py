"""Read files of events: JSON Lines, a Segment batch (`{"batch": [...]}`), or a JSON array.

`read_json_lines` is the one JSON Lines reader: `trackwell check` reads through it here, and
backfill streams its history files through it (`io/backfill_files.py`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackwell.core.messages import MAX_BATCH_BYTES


class EventFileError(Exception):
    """A file of events that cannot be read at all (missing, unreadable)."""


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One entry of an events file: its 1-based line (None inside a JSON document) and data."""

    index: int
    line: int | None
    data: Any
    size: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JsonLine:
    """One non-blank line of a JSON Lines file: its 1-based number, its size in bytes (without
    the line break), and its value, or why it is not JSON."""

    line: int
    size: int
    data: Any
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EventFile:
    """What was read, and notes about the file as a whole."""

    format: str  # "jsonl", "batch" or "array"
    events: list[RawEvent]
    notes: list[str]


def read_events(source: str | Path) -> EventFile:
    """Read events from a path, or from standard input when `source` is `-`."""
    if str(source) == "-":
        raw = sys.stdin.buffer.read()
    else:
        path = Path(source)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise EventFileError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise EventFileError(f"{path}: is a directory") from None
        except PermissionError:
            raise EventFileError(f"{path}: permission denied") from None
    return parse_events(raw)


def parse_events(raw: bytes) -> EventFile:
    """Tell the format apart and split it into entries; bad lines become entries with an error."""
    stripped = raw.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            document = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            document = None  # not one JSON document: JSON Lines (or garbage, reported per line)
        if isinstance(document, dict) and isinstance(document.get("batch"), list):
            notes = []
            if len(raw) > MAX_BATCH_BYTES:
                notes.append(
                    f"the batch is {len(raw) // 1024} KB: a Segment-compatible endpoint refuses "
                    f"batches over {MAX_BATCH_BYTES // 1024} KB"
                )
            return EventFile("batch", _entries(document["batch"], document), notes)
        if isinstance(document, list):
            return EventFile("array", _entries(document, None), [])
    if not stripped:
        raise EventFileError("no events: the input is empty")
    return EventFile("jsonl", list(_lines(raw)), [])


def _entries(items: list[Any], batch: dict[str, Any] | None) -> list[RawEvent]:
    shared = {}
    if batch is not None:
        # Segment batch: top-level context and integrations apply to every message.
        shared = {k: batch[k] for k in ("context", "integrations", "sentAt") if k in batch}
    events = []
    for index, item in enumerate(items):
        data = {**shared, **item} if shared and isinstance(item, dict) else item
        size = len(json.dumps(item, separators=(",", ":")).encode())
        events.append(RawEvent(index, None, data, size))
    return events


def read_json_lines(lines: Iterable[bytes]) -> Iterator[JsonLine]:
    """The values of JSON Lines, one per non-blank line, read lazily (an open binary file can
    be streamed); a line that is not UTF-8 or not JSON comes back with the reason instead."""
    for number, raw in enumerate(lines, start=1):
        line = raw.removesuffix(b"\n")
        if not line.strip():
            continue
        try:
            yield JsonLine(number, len(line), json.loads(line))
        except UnicodeDecodeError:
            yield JsonLine(number, len(line), None, "not UTF-8 text")
        except json.JSONDecodeError as exc:
            reason = f"not JSON ({exc.msg} at column {exc.colno})"
            yield JsonLine(number, len(line), None, reason)


def _lines(raw: bytes) -> Iterator[RawEvent]:
    for index, line in enumerate(read_json_lines(raw.split(b"\n"))):
        yield RawEvent(index, line.line, line.data, line.size, line.error)
