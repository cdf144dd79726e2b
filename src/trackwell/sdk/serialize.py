"""Python values to JSON values: datetimes, dates, Decimals, UUIDs, enums and dataclasses."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

_PRIMITIVES = (str, int, float, bool, type(None))
# Far deeper than any message may nest (8): a guard against self-referencing containers.
MAX_DEPTH = 32
TOO_DEEP = "[too-deep]"


def unix_seconds(value: datetime) -> int:
    """Whole Unix seconds; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def json_value(value: Any, *, timestamp: bool = False, depth: int = 0) -> Any:
    """A JSON-ready value. `timestamp` turns datetimes into Unix seconds (what Customer.io wants)."""
    if type(value) in _PRIMITIVES:
        return value
    if depth > MAX_DEPTH:
        return TOO_DEEP  # the checks then block the message as nested too deep
    if isinstance(value, datetime):
        if timestamp:
            return unix_seconds(value)
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_value(value.value, depth=depth + 1)
    if isinstance(value, Mapping):
        return {str(k): json_value(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [json_value(v, depth=depth + 1) for v in items]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            return json_value(dataclasses.asdict(value), depth=depth + 1)
        except RecursionError:
            return TOO_DEEP
    if isinstance(value, str | int | float | bool):  # subclasses of the primitives
        return value
    # Never str() an arbitrary object: its repr may hold secrets. Mark it for the checks.
    return f"[unserialisable:{type(value).__name__}]"


def json_object(
    values: Mapping[str, Any] | None, timestamp_keys: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A JSON-ready copy of a properties or traits mapping (fast when already plain)."""
    if not values:
        return {}
    if not isinstance(values, Mapping):
        # Not a mapping at all: pass it on, and the checks block it as `malformed`.
        return values
    if type(values) is dict and all(
        type(k) is str and type(v) in _PRIMITIVES for k, v in values.items()
    ):
        return dict(values)
    return {str(k): json_value(v, timestamp=k in timestamp_keys) for k, v in values.items()}
