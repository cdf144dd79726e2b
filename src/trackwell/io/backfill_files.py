"""Reading history files for backfill: JSON Lines (`io/eventfile.py`'s reader), or CSV with a
dotted-header convention."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackwell.io.eventfile import read_json_lines
from trackwell.plan.model import Plan, PropertySpec

# Content-derived ids make a re-run of the same file idempotent at every destination.
BACKFILL_NAMESPACE = uuid.UUID("5b0d1f3e-8a7c-4e61-9c1b-7f3a2d9e4b10")
TOP_LEVEL = {
    "type",
    "userId",
    "anonymousId",
    "event",
    "name",
    "timestamp",
    "messageId",
    "groupId",
    "previousId",
}
SECTIONS = ("properties.", "traits.", "context.")


@dataclass(frozen=True, slots=True)
class Row:
    """One record of a history file: its line (1-based), the message, or why it is unusable."""

    line: int
    data: dict[str, Any] | None
    error: str | None = None


def content_id(data: dict[str, Any]) -> str:
    """A stable messageId for a record that has none: a UUIDv5 of its canonical JSON."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return str(uuid.uuid5(BACKFILL_NAMESPACE, canonical))


def read_rows(path: Path, fmt: str, plan: Plan) -> Iterator[Row]:
    """Rows of a JSON Lines or CSV file, each with a messageId."""
    if fmt == "jsonl":
        yield from _jsonl(path)
    else:
        yield from _csv(path, plan)


def count_rows(path: Path, fmt: str) -> int:
    """Records in the file (for the progress bar)."""
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(lines - 1, 0) if fmt == "csv" else lines


def _with_id(line: int, data: Any) -> Row:
    if not isinstance(data, dict):
        return Row(line, None, "not a JSON object")
    if not data.get("messageId"):
        data = {**data, "messageId": content_id(data)}
    return Row(line, data)


def _jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as handle:  # streamed: history files can be far larger than memory
        for line in read_json_lines(handle):
            if line.error is not None:
                yield Row(line.line, None, line.error)
            else:
                yield _with_id(line.line, line.data)


def _csv(path: Path, plan: Plan) -> Iterator[Row]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    unknown = [f for f in fields if f not in TOP_LEVEL and not f.startswith(SECTIONS)]
    if unknown:
        raise ValueError(
            f"{path}: unknown CSV column(s) {unknown}: use userId, anonymousId, event, timestamp, messageId, "
            "type, name, properties.NAME, traits.NAME or context.NAME"
        )
    for number, record in enumerate(reader, start=2):
        try:
            yield _with_id(number, _csv_message(record, plan))
        except ValueError as exc:
            yield Row(number, None, str(exc))


def _csv_message(record: dict[str, str | None], plan: Plan) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "track"}
    for key, value in record.items():
        if value is None or value == "" or key is None:
            continue
        if key in TOP_LEVEL:
            message[key] = value
    event = plan.events.get(str(message.get("event", "")))
    specs = {p.name: p for p in event.properties} if event else {}
    traits = {t.name: t for t in plan.traits}
    for key, value in record.items():
        if value is None or value == "" or key is None or key in TOP_LEVEL:
            continue
        section, _, name = key.partition(".")
        spec = (
            specs.get(name)
            if section == "properties"
            else traits.get(name)
            if section == "traits"
            else None
        )
        message.setdefault(section, {})[name] = _coerce(value, spec)
    timestamp = message.get("timestamp")
    if isinstance(timestamp, str) and timestamp.isdigit():
        message["timestamp"] = int(timestamp)
    return message


def _coerce(value: str, spec: PropertySpec | None) -> Any:
    """CSV cells are text; the plan says what each should be."""
    if spec is None:
        return value
    try:
        if spec.type == "integer":
            return int(value)
        if spec.type == "number":
            return float(value)
        if spec.type == "boolean":
            lowered = value.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(value)
        if spec.type == "timestamp" and value.strip().isdigit():
            return int(value)
        if spec.type in ("array", "object"):
            return json.loads(value)
    except (ValueError, json.JSONDecodeError):
        raise ValueError(
            f"column for {spec.name!r}: {value!r} is not a valid {spec.type}"
        ) from None
    return value
