"""Compare two versions of a plan and classify each change as breaking or compatible."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from trackwell.plan.model import EventSpec, Plan, PropertySpec

Kind = Literal["breaking", "compatible"]
_ChangeMaker = Callable[[Kind, str, str], "Change"]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two plans, and who depends on what it touches."""

    kind: Kind
    code: str
    path: str
    message: str
    impact: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form of the change."""
        return {
            "kind": self.kind,
            "code": self.code,
            "path": self.path,
            "message": self.message,
            "impact": list(self.impact),
        }


@dataclass(frozen=True, slots=True)
class PlanDiff:
    """Every change from an old plan to a new one."""

    old_version: int
    new_version: int
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def breaking(self) -> tuple[Change, ...]:
        """The changes that can break senders or the workflows that depend on them."""
        return tuple(c for c in self.changes if c.kind == "breaking")

    @property
    def version_bumped(self) -> bool:
        """Whether the new plan's version is above the old one's."""
        return self.new_version > self.old_version

    @property
    def ok(self) -> bool:
        """False when a breaking change ships without a version bump (what CI fails on)."""
        return self.version_bumped or not self.breaking

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form of the diff."""
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "version_bumped": self.version_bumped,
            "breaking": len(self.breaking),
            "compatible": len(self.changes) - len(self.breaking),
            "ok": self.ok,
            "changes": [c.to_dict() for c in self.changes],
        }


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """Every change from `old` to `new`, breaking ones first within each area."""
    changes = [
        *_events(old, new),
        *_props(old.traits, new.traits, "traits", ()),
        *_name_lists(old.pages, new.pages, "pages", "page"),
        *_name_lists(old.screens, new.screens, "screens", "screen"),
        *_name_lists(old.stages, new.stages, "stages", "stage"),
        *_policy(old, new),
        *_consent(old, new),
    ]
    return PlanDiff(old.version, new.version, tuple(changes))


def _impact(*events: EventSpec | None) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for event in events:
        if event is not None:
            seen.update(dict.fromkeys(event.used_by))
    return tuple(seen)


def _events(old: Plan, new: Plan) -> Iterator[Change]:
    renamed_to = {alias: e.name for e in new.events.values() for alias in e.aliases}
    for name, before in old.events.items():
        path = f"events.{name}"
        after = new.events.get(name)
        if after is None:
            target = renamed_to.get(name)
            if target is not None:
                yield Change(
                    "compatible",
                    "event_renamed",
                    path,
                    f"'{name}' renamed to '{target}' (kept as an alias, so senders still work)",
                    _impact(before, new.events[target]),
                )
            else:
                yield Change(
                    "breaking", "event_removed", path, f"event '{name}' removed", _impact(before)
                )
            continue
        yield from _event(before, after)
    for name in new.events:
        if name not in old.events:
            yield Change("compatible", "event_added", f"events.{name}", f"event '{name}' added")


def _event(before: EventSpec, after: EventSpec) -> Iterator[Change]:
    path = f"events.{before.name}"
    impact = _impact(before, after)
    for alias in before.aliases:
        if alias not in after.aliases:
            yield Change(
                "breaking",
                "alias_removed",
                f"{path}.aliases",
                f"alias '{alias}' removed: senders still using it will be refused",
                impact,
            )
    for alias in after.aliases:
        if alias not in before.aliases:
            yield Change(
                "compatible", "alias_added", f"{path}.aliases", f"alias '{alias}' added", impact
            )
    if not before.deprecated and after.deprecated:
        replacement = f" (use '{after.replaced_by}')" if after.replaced_by else ""
        yield Change(
            "compatible",
            "event_deprecated",
            path,
            f"'{before.name}' deprecated{replacement}",
            impact,
        )
    elif before.deprecated and not after.deprecated:
        yield Change(
            "compatible",
            "event_undeprecated",
            path,
            f"'{before.name}' no longer deprecated",
            impact,
        )
    if before.browser != after.browser:
        # Taking the flag away refuses what browser keys send today: a sender-visible break.
        yield Change(
            "compatible" if after.browser else "breaking",
            "browser_allowed" if after.browser else "browser_disallowed",
            f"{path}.browser",
            f"browser keys may {'now' if after.browser else 'no longer'} send '{before.name}'",
            impact,
        )
    for attr in ("stage", "description", "owner", "backfill", "replaced_by"):
        old_value, new_value = getattr(before, attr), getattr(after, attr)
        if old_value != new_value:
            yield Change(
                "compatible",
                f"{attr}_changed",
                f"{path}.{attr}",
                f"{attr} changed from {_show(old_value)} to {_show(new_value)}",
                impact,
            )
    if before.used_by != after.used_by:
        yield Change(
            "compatible",
            "used_by_changed",
            f"{path}.used_by",
            f"used_by changed from {list(before.used_by)} to {list(after.used_by)}",
            impact,
        )
    yield from _props(before.properties, after.properties, f"{path}.properties", impact)


def _props(
    before: tuple[PropertySpec, ...],
    after: tuple[PropertySpec, ...],
    path: str,
    impact: tuple[str, ...],
) -> Iterator[Change]:
    new_by_name = {p.name: p for p in after}
    old_names = {p.name for p in before}
    for prop in before:
        prop_path = f"{path}.{prop.name}"
        other = new_by_name.get(prop.name)
        if other is None:
            yield Change(
                "breaking", "property_removed", prop_path, f"'{prop.name}' removed", impact
            )
        else:
            yield from _prop(prop, other, prop_path, impact)
    for prop in after:
        if prop.name in old_names:
            continue
        prop_path = f"{path}.{prop.name}"
        if prop.required:
            yield Change(
                "breaking",
                "required_property_added",
                prop_path,
                f"required '{prop.name}' added: senders that do not send it will be refused",
                impact,
            )
        else:
            yield Change(
                "compatible", "property_added", prop_path, f"optional '{prop.name}' added", impact
            )


def _prop(a: PropertySpec, b: PropertySpec, path: str, impact: tuple[str, ...]) -> Iterator[Change]:
    def change(kind: Kind, code: str, message: str) -> Change:
        return Change(kind, code, path, f"'{a.name}': {message}", impact)

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
                f"{attr} changed from {_show(old_value)} to {_show(new_value)}",
            )
    if a.description != b.description:
        yield change("compatible", "description_changed", "description changed")
    if a.items is not None and b.items is not None:
        yield from _prop(a.items, b.items, f"{path}.items", impact)
    if a.properties or b.properties:
        yield from _props(a.properties, b.properties, f"{path}.properties", impact)


def _enum(a: PropertySpec, b: PropertySpec, change: _ChangeMaker) -> Iterator[Change]:
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


def _bounds(a: PropertySpec, b: PropertySpec, change: _ChangeMaker) -> Iterator[Change]:
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
            f"{attr} changed from {_show(old_value)} to {_show(new_value)}",
        )


def _name_lists(
    before: tuple[str, ...], after: tuple[str, ...], path: str, noun: str
) -> Iterator[Change]:
    for name in before:
        if name not in after:
            yield Change("breaking", f"{noun}_removed", path, f"{noun} '{name}' removed")
    for name in after:
        if name not in before:
            yield Change("compatible", f"{noun}_added", path, f"{noun} '{name}' added")


_STRICTNESS = {"allow": 0, "omit": 1, "redact": 1, "block": 2}


def _policy(old: Plan, new: Plan) -> Iterator[Change]:
    for attr in ("unplanned_event", "unplanned_property", "invalid_property", "sensitive_data"):
        a, b = getattr(old.policy, attr), getattr(new.policy, attr)
        if a == b:
            continue
        stricter = _STRICTNESS[b] > _STRICTNESS[a]
        yield Change(
            "breaking" if stricter else "compatible",
            "policy_tightened" if stricter else "policy_loosened",
            f"policy.{attr}",
            f"policy {attr} changed from {a} to {b}",
        )


def _consent(old: Plan, new: Plan) -> Iterator[Change]:
    """`policy.consent` changed: enforcing more (a new policy, hold or drop instead of deliver)
    is breaking, since destinations stop getting messages they got before."""
    a, b = old.policy.consent, new.policy.consent
    if a == b:
        return
    before = "none" if a is None else f"{a.missing_consent} (trait {_show(a.trait)})"
    after = "none" if b is None else f"{b.missing_consent} (trait {_show(b.trait)})"
    rank = {None: 0, "deliver": 1, "hold": 2, "drop": 2}
    held_back = rank[b.missing_consent if b else None] > rank[a.missing_consent if a else None]
    # Without the trait, people whose consent only the profile knows have none any more.
    trait_dropped = a is not None and b is not None and a.trait is not None and b.trait is None
    stricter = held_back or trait_dropped
    yield Change(
        "breaking" if stricter else "compatible",
        "policy_tightened" if stricter else "policy_loosened",
        "policy.consent",
        f"policy consent changed from {before} to {after}",
    )


def _show(value: object) -> str:
    return "none" if value is None else repr(value)
