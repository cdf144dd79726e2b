"""Check a payload (event properties or identify traits) against its planned properties."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from trackwell.core.violations import Effect, Violation
from trackwell.plan.model import Policy, PropertySpec
from trackwell.quality.compiled import CompiledProperties
from trackwell.quality.sensitive import Path, format_path

_SHOWN_VALUE_LENGTH = 40


@dataclass(frozen=True, slots=True)
class PayloadCodes:
    """The violation codes for one kind of payload: properties or traits."""

    missing: str
    invalid: str
    unplanned: str
    noun: str
    missing_blocks: bool


PROPERTY_CODES = PayloadCodes(
    "missing_property", "invalid_property", "unplanned_property", "property", True
)
# An identify is a partial update: a later one may carry only the trait that changed, so a
# missing required trait is reported, never blocked.
TRAIT_CODES = PayloadCodes("missing_trait", "invalid_trait", "unplanned_trait", "trait", False)


def check_payload(
    compiled: CompiledProperties,
    payload: dict[str, Any],
    root: str,
    codes: PayloadCodes,
    policy: Policy,
) -> tuple[list[Violation], list[Path]]:
    """Violations in `payload`, and the paths of unplanned keys to omit (per the policy)."""
    violations: list[Violation] = []
    omit: list[Path] = []
    unplanned_effect: Effect = _UNPLANNED_EFFECT[policy.unplanned_property]
    for path in _unplanned(compiled, payload, (root,)):
        where = format_path(path)
        violations.append(
            Violation(
                codes.unplanned,
                where,
                f"{codes.noun} '{path[-1]}' is not in the plan",
                unplanned_effect,
            )
        )
        if unplanned_effect == "repair":
            omit.append(path)
    if not compiled.validator.is_valid(payload):
        invalid_effect: Effect = "block" if policy.invalid_property == "block" else "report"
        for error in compiled.validator.iter_errors(payload):
            violations.append(_violation(compiled, error, root, codes, invalid_effect))
    return violations, omit


_UNPLANNED_EFFECT: dict[str, Effect] = {"block": "block", "omit": "repair", "allow": "report"}


def renamed(
    compiled: CompiledProperties, payload: dict[str, Any], root: str
) -> tuple[dict[str, Any], list[Violation]]:
    """`payload` with old property names (aliases) renamed to the planned ones, as a new dict
    (the given one is never changed), and an `aliased_property` repair for each rename. An old
    name sent beside its new one is left alone: which value is right cannot be known."""
    if not compiled.aliases or compiled.aliases.keys().isdisjoint(payload):
        return payload, []
    out: dict[str, Any] = {}
    renames: list[Violation] = []
    for key, value in payload.items():
        new = compiled.aliases.get(key)
        if new is None or new in payload:
            out[key] = value
            continue
        out[new] = value
        renames.append(
            Violation(
                "aliased_property",
                format_path((root, key)),
                f"'{key}' is an old name of '{new}'; renamed",
                "repair",
                suggestion=new,
            )
        )
    return (out, renames) if renames else (payload, [])


def _unplanned(compiled: CompiledProperties, payload: dict[str, Any], path: Path) -> Iterator[Path]:
    if len(payload) > len(compiled.planned) or not compiled.planned.issuperset(payload):
        for key in payload:
            if key not in compiled.planned:
                yield (*path, key)
    for spec in compiled.nested:
        yield from _nested_unplanned(spec, payload.get(spec.name), (*path, spec.name))


def _nested_unplanned(spec: PropertySpec, value: Any, path: Path) -> Iterator[Path]:
    if isinstance(value, dict) and spec.properties:
        children = {p.name: p for p in spec.properties}
        for key, item in value.items():
            child = children.get(key)
            if child is None:
                yield (*path, key)
            else:
                yield from _nested_unplanned(child, item, (*path, key))
    elif isinstance(value, list) and spec.items is not None:
        for index, item in enumerate(value):
            yield from _nested_unplanned(spec.items, item, (*path, index))


def _spec_at(compiled: CompiledProperties, steps: list[str | int]) -> PropertySpec | None:
    spec: PropertySpec | None = None
    for step in steps:
        if isinstance(step, int):
            spec = spec.items if spec is not None else None
        elif spec is None:
            spec = compiled.specs.get(step)
        else:
            spec = spec.child(step)
        if spec is None:
            return None
    return spec


def _violation(
    compiled: CompiledProperties, error: Any, root: str, codes: PayloadCodes, effect: Effect
) -> Violation:
    steps: list[str | int] = list(error.instance_path)
    kind = error.kind.name
    details = error.kind.as_dict()
    if kind == "required":
        name = details.get("property", "?")
        path = format_path((root, *steps, name))
        missing_effect: Effect = effect if codes.missing_blocks else "report"
        return Violation(
            codes.missing, path, f"required {codes.noun} '{name}' is missing", missing_effect
        )
    spec = _spec_at(compiled, steps)
    path = format_path((root, *steps))
    name = steps[-1] if steps else root
    actual = _describe(error.instance)
    return Violation(
        codes.invalid, path, f"'{name}': {_expected(kind, spec, details)}, got {actual}", effect
    )


def _expected(kind: str, spec: PropertySpec | None, details: dict[str, Any]) -> str:
    if spec is None:
        return "does not match the plan"
    nullable = " or null" if spec.nullable else ""
    if kind == "type":
        wanted = "Unix seconds or an ISO-8601 string" if spec.type == "timestamp" else spec.type
        return f"expected {wanted}{nullable}"
    if kind == "enum":
        allowed = ", ".join(repr(v) for v in spec.enum or ())
        return f"expected one of {allowed}{nullable}"
    if kind == "minimum":
        return f"expected at least {spec.minimum:g}"
    if kind == "maximum":
        return f"expected at most {spec.maximum:g}"
    if kind == "maxLength":
        return f"expected at most {spec.max_length} characters"
    if kind == "pattern":
        return f"expected text matching {spec.pattern!r}"
    if kind == "format":
        wanted_format = "date-time" if spec.type == "timestamp" else spec.format
        return f"expected a valid {wanted_format}"
    return f"violates {kind} {details}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value:g}" if isinstance(value, float) else f"integer {value}"
    if isinstance(value, str):
        shown = (
            value if len(value) <= _SHOWN_VALUE_LENGTH else value[: _SHOWN_VALUE_LENGTH - 3] + "..."
        )
        return f"string {shown!r}" + (
            f" ({len(value)} characters)" if len(value) > _SHOWN_VALUE_LENGTH else ""
        )
    if isinstance(value, list):
        return f"array of {len(value)}"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
