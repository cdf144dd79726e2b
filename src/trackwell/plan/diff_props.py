"""Compare two sets of properties (an event's, the traits, a page's, one shared definition):
matched by name or by a property-level alias, each difference classified for senders."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from trackwell.plan.model import Location, PropertySpec

Kind = Literal["breaking", "compatible"]
# What a shared definition's own differences look like at a use, to report them only once.
DeltaKey = tuple[str, str, str]
_Maker = Callable[[Kind, str, str], "Delta"]


@dataclass(frozen=True, slots=True)
class Delta:
    """One difference inside a property set, relative to the set (`rel` is `name`,
    `name.items`, `name.properties.child`, ...)."""

    kind: Kind
    code: str
    rel: str
    name: str
    detail: str
    location: Location | None

    @property
    def message(self) -> str:
        """The sentence shown to people: the property's name, then what changed."""
        return f"'{self.name}': {self.detail}"

    @property
    def key(self) -> DeltaKey:
        """What identifies this difference whatever property set it was found in."""
        return (self.code, self.rel.partition(".")[2], self.detail)


def set_deltas(
    before: tuple[PropertySpec, ...],
    after: tuple[PropertySpec, ...],
    parent: Location | None,
    explained: Mapping[str, frozenset[DeltaKey]],
    prefix: str = "",
) -> Iterator[Delta]:
    """Every difference from `before` to `after`. A property whose old name is among a new
    property's `aliases` was renamed: reported once, then compared with its new self.
    `explained` maps a shared definition to its own differences, left out at its uses."""
    new_by_name = {p.name: p for p in after}
    renamed_to = {a: p for p in after for a in p.aliases if a not in new_by_name}
    old_names = {p.name for p in before}
    matched: set[str] = set()
    for prop in before:
        other = new_by_name.get(prop.name)
        renamed_from = None
        if other is None and prop.name in renamed_to:
            other, renamed_from = renamed_to[prop.name], prop.name
        if other is None:
            yield Delta(
                "breaking",
                "property_removed",
                prefix + prop.name,
                prop.name,
                "removed",
                parent,
            )
            continue
        matched.add(other.name)
        rel = prefix + other.name
        where = other.location or parent
        if renamed_from is not None:
            yield Delta(
                "compatible",
                "property_renamed",
                rel,
                other.name,
                f"renamed from '{renamed_from}' (kept as an alias, so senders still work)",
                where,
            )
        found = _prop(prop, other, rel, where, explained, renamed_from)
        if prop.shared is not None and prop.shared == other.shared:
            skip = explained.get(prop.shared, frozenset())
            found = (d for d in found if d.key not in skip)
        yield from found
    for prop in after:
        if prop.name in matched or prop.name in old_names:
            continue
        where = prop.location or parent
        if prop.required:
            yield Delta(
                "breaking",
                "required_property_added",
                prefix + prop.name,
                prop.name,
                "added as required: senders that do not send it will be refused",
                where,
            )
        else:
            yield Delta(
                "compatible", "property_added", prefix + prop.name, prop.name, "added", where
            )


def _prop(
    a: PropertySpec,
    b: PropertySpec,
    rel: str,
    where: Location | None,
    explained: Mapping[str, frozenset[DeltaKey]],
    renamed_from: str | None = None,
) -> Iterator[Delta]:
    def change(kind: Kind, code: str, detail: str) -> Delta:
        return Delta(kind, code, rel, b.name, detail, where)

    yield from _aliases(a, b, change, renamed_from)
    if a.shared != b.shared:
        now = f"a use of shared '{b.shared}'" if b.shared else "defined in place"
        yield change("compatible", "property_shared_changed", f"now {now}")
    if a.type != b.type:
        yield change("breaking", "type_changed", f"type changed from {a.type} to {b.type}")
        return  # Constraints of another type are not comparable.
    if a.required != b.required:
        if b.required:
            yield change("breaking", "became_required", "became required")
        else:
            yield change("compatible", "became_optional", "became optional")
    if a.nullable != b.nullable:
        kind: Kind = "breaking" if a.nullable else "compatible"
        yield change(
            kind, "nullable_changed", "no longer nullable" if a.nullable else "now nullable"
        )
    yield from _enum(a, b, change)
    yield from _bounds(a, b, change)
    for attr in ("pattern", "format"):
        old_value, new_value = getattr(a, attr), getattr(b, attr)
        if old_value != new_value:
            kind = "compatible" if new_value is None else "breaking"
            yield change(
                kind,
                f"{attr}_changed",
                f"{attr} changed from {show(old_value)} to {show(new_value)}",
            )
    if a.description != b.description:
        yield change("compatible", "description_changed", "description changed")
    if a.items is not None and b.items is not None:
        yield from _prop(a.items, b.items, f"{rel}.items", where, explained)
    if a.properties or b.properties:
        yield from set_deltas(a.properties, b.properties, where, explained, f"{rel}.properties.")


def _aliases(
    a: PropertySpec, b: PropertySpec, change: _Maker, renamed_from: str | None
) -> Iterator[Delta]:
    for alias in a.aliases:
        if alias not in b.aliases:
            yield change(
                "breaking",
                "property_alias_removed",
                f"alias '{alias}' removed: senders still using it will be refused",
            )
    for alias in b.aliases:
        if alias not in a.aliases and alias != renamed_from:
            yield change("compatible", "property_alias_added", f"alias '{alias}' added")


def _enum(a: PropertySpec, b: PropertySpec, change: _Maker) -> Iterator[Delta]:
    if a.enum == b.enum:
        return
    if b.enum is None:
        yield change("compatible", "enum_removed", "allowed values no longer restricted")
    elif a.enum is None:
        yield change("breaking", "enum_added", f"now restricted to {list(b.enum)}")
    else:
        dropped = [v for v in a.enum if v not in b.enum]
        added = [v for v in b.enum if v not in a.enum]
        if dropped:
            yield change("breaking", "enum_narrowed", f"values {dropped} no longer allowed")
        if added:
            yield change("compatible", "enum_widened", f"values {added} now allowed")


def _bounds(a: PropertySpec, b: PropertySpec, change: _Maker) -> Iterator[Delta]:
    # A lower bound tightens when it rises; an upper bound when it falls; any bound when added.
    for attr, lower in (("minimum", True), ("maximum", False), ("max_length", False)):
        old_value, new_value = getattr(a, attr), getattr(b, attr)
        if old_value == new_value:
            continue
        tightened = new_value is not None and (
            old_value is None or (new_value > old_value if lower else new_value < old_value)
        )
        yield change(
            "breaking" if tightened else "compatible",
            "constraint_tightened" if tightened else "constraint_loosened",
            f"{attr} changed from {show(old_value)} to {show(new_value)}",
        )


def definition_deltas(
    a: PropertySpec, b: PropertySpec, where: Location | None
) -> tuple[Delta, ...]:
    """The differences of one shared definition with itself in the new plan."""
    return tuple(_prop(a, b, a.name, where, {}))


def show(value: object) -> str:
    """A value as a message shows it."""
    return "none" if value is None else repr(value)
