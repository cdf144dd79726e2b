"""Valid example values made from a plan's property specs (the banner's curl line, the demo)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from trackwell.plan.model import EventSpec, Plan, PropertySpec

# Strings tried, in order, against a property's `pattern` (JSON Schema's: a search, not a full
# match). A pattern none of them fits has no sample, and an event that requires such a property
# is not picked as an example.
_PATTERN_CANDIDATES = (
    "example", "abc", "a", "A", "1", "42", "abc123", "ABC-123", "ab_12", "x1",
    "2026-01-05", "acme.example", "https://acme.example/", "user@example.com",
)  # fmt: skip
_NO_SAMPLE = object()


def sample_value(spec: PropertySpec, *, variant: int = 0, now_s: int | None = None) -> Any:
    """A value `spec` accepts; `variant` walks an enum and nudges numbers, so a demo varies.

    Raises ValueError when no value can be made (a pattern no candidate string fits).
    """
    value = _sample(spec, variant, _now(now_s))
    if value is _NO_SAMPLE:
        raise ValueError(f"no sample value fits property '{spec.name}'")
    return value


def sample_properties(
    props: Iterable[PropertySpec],
    *,
    variant: int = 0,
    optional: bool = False,
    now_s: int | None = None,
) -> dict[str, Any] | None:
    """Values for the required properties (and the optional ones when asked), or None when a
    required one has no sample; an optional one without a sample is left out."""
    now = _now(now_s)
    values: dict[str, Any] = {}
    for spec in props:
        if not spec.required and not optional:
            continue
        value = _sample(spec, variant, now)
        if value is _NO_SAMPLE:
            if spec.required:
                return None
            continue
        values[spec.name] = value
    return values


def event_properties(event: EventSpec) -> tuple[PropertySpec, ...]:
    """The properties a new message of `event` carries: its current version's when it has versions."""
    version = event.current_version()
    return event.version_properties(version) if version is not None else event.properties


def example_event(plan: Plan) -> tuple[str, dict[str, Any]] | None:
    """A planned event and its required properties, valid as they are: the first event in the
    plan's order that is not deprecated and whose required properties all have a sample (a
    deprecated one only when no other fits). None for a plan with no such event."""
    ordered = sorted(plan.events.values(), key=lambda event: event.deprecated)
    for event in ordered:
        properties = sample_properties(event_properties(event))
        if properties is not None:
            return event.name, properties
    return None


def _now(now_s: int | None) -> int:
    """`now_s`, or the current Unix time."""
    return int(datetime.now(UTC).timestamp()) if now_s is None else now_s


def _sample(spec: PropertySpec, variant: int, now_s: int) -> Any:
    """A value `spec` accepts, or `_NO_SAMPLE`."""
    if spec.enum:
        choices: list[Any] = [value for value in spec.enum if value is not None] or list(spec.enum)
        return choices[variant % len(choices)]
    kind = spec.type
    if kind == "boolean":
        return variant % 2 == 0
    if kind in ("integer", "number"):
        return _number(spec, variant)
    if kind == "timestamp":
        return now_s
    if kind == "string":
        return _string(spec, now_s)
    if kind == "array":
        if spec.items is None:
            return []
        item = _sample(spec.items, variant, now_s)
        return [] if item is _NO_SAMPLE else [item]
    if kind == "object":
        fields = sample_properties(spec.properties, variant=variant, now_s=now_s)
        return _NO_SAMPLE if fields is None else fields
    return _NO_SAMPLE


def _number(spec: PropertySpec, variant: int) -> int | float | object:
    """A number within the bounds (whole for an integer), or `_NO_SAMPLE`."""
    low = spec.minimum if spec.minimum is not None else 0
    if spec.maximum is not None and low > spec.maximum:
        low = spec.maximum if spec.minimum is None else low
    value: float = low + variant % 7
    if spec.maximum is not None and value > spec.maximum:
        value = spec.maximum
    if spec.type == "integer":
        whole = int(-(-value // 1))  # the smallest whole number not below the value
        if spec.maximum is not None and whole > spec.maximum:
            return _NO_SAMPLE  # no integer between the bounds (e.g. minimum 0.2, maximum 0.8)
        return whole
    return value


def _string(spec: PropertySpec, now_s: int) -> str | object:
    """A string that fits the format, length and pattern, or `_NO_SAMPLE`."""
    if spec.format == "email":
        candidates: tuple[str, ...] = ("user@example.com",)
    elif spec.format == "uri":
        candidates = ("https://acme.example/",)
    elif spec.format == "date-time":
        candidates = (datetime.fromtimestamp(now_s, UTC).isoformat().replace("+00:00", "Z"),)
    else:
        candidates = _PATTERN_CANDIDATES
    for text in candidates:
        if spec.max_length is not None and len(text) > spec.max_length:
            text = text[: max(spec.max_length, 0)]
        if spec.pattern is not None and re.search(spec.pattern, text) is None:
            continue
        if spec.format is not None and spec.max_length is not None and text != candidates[0]:
            continue  # a cut email or URL is no longer one
        return text
    return _NO_SAMPLE
