"""The providers' documented request shapes (`schemas/*.json`) and one check against them.

Each file holds the `$defs` written from one provider's published API reference; a fake checks
a request (or each item of a batch) against a named definition and refuses it, in the
provider's own error format, when it does not fit. A wrong field therefore fails a test."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]

SCHEMAS = Path(__file__).with_name("schemas")
_FORMATS = FormatChecker()


def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time with a zone, as the Segment spec's times are."""
    if not isinstance(value, str):
        return True  # the `type` keyword judges non-strings
    parsed = datetime.fromisoformat(value)
    return "T" in value.upper() and parsed.tzinfo is not None


_FORMATS.checkers["date-time"] = (_is_date_time, ValueError)


@dataclass(frozen=True)
class Violation:
    """Where a request breaks its documented shape (a dotted path, empty for the root) and how."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@functools.cache
def definitions(api: str) -> dict[str, Any]:
    """The `$defs` of `schemas/<api>.json`."""
    document = json.loads((SCHEMAS / f"{api}.json").read_text())
    return dict(document["$defs"])


@functools.cache
def _validator(api: str, name: str) -> Draft202012Validator:
    defs = definitions(api)
    if name not in defs:
        raise KeyError(f"{api}.json has no definition {name!r}")
    schema = {"$defs": defs, "$ref": f"#/$defs/{name}"}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_FORMATS)


def violation(api: str, name: str, instance: Any) -> Violation | None:
    """The most relevant way `instance` breaks definition `name` of `api`, or None if it fits."""
    error = best_match(_validator(api, name).iter_errors(instance))
    while error is not None and error.validator in ("oneOf", "anyOf") and error.context:
        names = _alternatives(error)
        if names:
            parts = [str(part) for part in error.absolute_path]
            return Violation(".".join([*parts, names[0]]), f"needs one of {', '.join(names)}")
        # Name the alternative that came closest rather than "is not valid under any".
        error = best_match(error.context)
    if error is None:
        return None
    if error.validator == "required":
        return Violation(
            ".".join([*map(str, error.absolute_path), *_missing(error)[:1]]), "is required"
        )
    return Violation(".".join(str(part) for part in error.absolute_path), error.message)


def _missing(error: ValidationError) -> list[str]:
    present = error.instance if isinstance(error.instance, dict) else {}
    return [str(key) for key in error.validator_value if key not in present]


def _alternatives(error: ValidationError) -> list[str]:
    """The fields of an "one of these fields" choice (e.g. userId or anonymousId), else []."""
    names: list[str] = []
    for sub in error.context or []:
        if sub.validator == "required" and not sub.relative_path:
            names += _missing(sub)
        elif len(sub.relative_path) == 1 and sub.validator == "type":
            names.append(str(sub.relative_path[0]))
        else:
            return []
    return list(dict.fromkeys(names))
