"""JSON Schema pieces shared by the OpenAPI document and the checks of Customer.io bodies."""

from __future__ import annotations

from typing import Any

OBJECT: dict[str, Any] = {"type": "object"}
# Ids and names are keys (for the store and for every tool): a NUL in one is refused (400).
NO_NUL = "^[^\\x00]*$"
NOT_BLANK = "\\S"
# Customer.io's `timestamp`: an integer of Unix seconds, in the range messages.py parses.
UNIX_SECONDS = {
    "type": ["integer", "null"],
    "minimum": 0,
    "exclusiveMaximum": 100_000_000_000_000,
    "description": "Unix seconds",
}
# A message's optional parts: null is read as absent (Segment's libraries serialise unset as null).
MAYBE_OBJECT: dict[str, Any] = {"type": ["object", "null"]}


def text(max_length: int, *, blank: bool = True) -> dict[str, Any]:
    """A non-empty string of at most `max_length` characters without NUL (not blank, if asked)."""
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_length}
    if blank:
        schema["pattern"] = NO_NUL
    else:
        schema["allOf"] = [{"pattern": NOT_BLANK}, {"pattern": NO_NUL}]
    return schema
