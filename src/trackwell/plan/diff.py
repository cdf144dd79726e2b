"""Compare two versions of a plan and classify each change as breaking or compatible."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from trackwell.plan.diff_props import Delta, DeltaKey, Kind, definition_deltas, set_deltas, show
from trackwell.plan.model import EventSpec, EventVersion, Location, PageSpec, Plan, PropertySpec

__all__ = ["CODES", "Change", "Kind", "PlanDiff", "Scope", "diff_plans"]

# Whose change it is: an event (its properties and versions included), the identify traits, the
# group traits, a page or screen, a shared property definition, or the plan's own settings.
Scope = Literal["event", "trait", "group", "page", "screen", "shared", "plan"]

# Every code a change may have: CI scripts match on them, so they are kept stable (and each is
# listed in README's "Diff classes" table).
CODES = frozenset(
    {
        *("event_removed", "event_added", "event_renamed", "alias_removed", "alias_added"),
        *("event_deprecated", "event_undeprecated", "browser_allowed", "browser_disallowed"),
        *("stage_changed", "description_changed", "owner_changed", "backfill_changed"),
        *("replaced_by_changed", "used_by_changed"),
        *("version_removed", "version_added", "version_retired", "version_restored"),
        *("property_removed", "required_property_added", "property_added", "property_renamed"),
        *("property_alias_removed", "property_alias_added", "property_shared_changed"),
        *("type_changed", "became_required", "became_optional", "nullable_changed"),
        *("enum_added", "enum_narrowed", "enum_widened", "enum_removed"),
        *("constraint_tightened", "constraint_loosened", "pattern_changed", "format_changed"),
        *("shared_property_added", "shared_property_removed"),
        *("group_traits_added", "group_traits_removed"),
        *("page_removed", "page_added", "page_properties_planned", "page_properties_unplanned"),
        *("screen_removed", "screen_added"),
        *("screen_properties_planned", "screen_properties_unplanned"),
        *("stage_removed", "stage_added", "policy_tightened", "policy_loosened"),
    }
)


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two plans, and who depends on what it touches."""

    kind: Kind
    code: str
    path: str
    message: str
    # The workflows (`used_by`) of the events the change touches.
    impact: tuple[str, ...] = ()
    scope: Scope = "plan"
    # Where the changed thing is written in the new plan (its parent's place for a removed
    # property); None for what the new plan no longer has at all.
    location: Location | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:  # a new code must be registered (and documented) first
            raise ValueError(f"unregistered plan diff code {self.code!r}")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form of the change (`impact` kept beside `used_by` for older readers)."""
        where = self.location
        return {
            "kind": self.kind,
            "code": self.code,
            "scope": self.scope,
            "path": self.path,
            "message": self.message,
            "used_by": list(self.impact),
            "impact": list(self.impact),
            "location": (
                None
                if where is None
                else {"file": where.file, "line": where.line, "column": where.column}
            ),
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
    """Every change from `old` to `new`, grouped by what they touch."""
    shared = _shared_deltas(old, new)
    explained = {name: frozenset(d.key for d in found) for name, found in shared.items()}
    changes = [
        *_shared(old, new, shared),
        *_events(old, new, explained),
        *_props("trait", "traits", old.traits, new.traits, None, (), explained),
        *_group(old, new, explained),
        *_name_lists(old.pages, new.pages, "pages", "page"),
        *_pages("page", (old.pages, new.pages), old.page_specs, new.page_specs, explained),
        *_name_lists(old.screens, new.screens, "screens", "screen"),
        *_pages(
            "screen", (old.screens, new.screens), old.screen_specs, new.screen_specs, explained
        ),
        *_name_lists(old.stages, new.stages, "stages", "stage"),
        *_policy(old, new),
        *_consent(old, new),
    ]
    return PlanDiff(old.version, new.version, tuple(changes))


def _workflows(events: Iterable[EventSpec]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for event in events:
        seen.update(dict.fromkeys(event.used_by))
    return tuple(seen)


def _props(
    scope: Scope,
    path: str,
    before: tuple[PropertySpec, ...],
    after: tuple[PropertySpec, ...],
    parent: Location | None,
    impact: tuple[str, ...],
    explained: Mapping[str, frozenset[DeltaKey]],
) -> Iterator[Change]:
    for delta in set_deltas(before, after, parent, explained):
        yield _change(delta, scope, path, impact)


def _change(delta: Delta, scope: Scope, path: str, impact: tuple[str, ...]) -> Change:
    return Change(
        delta.kind,
        delta.code,
        f"{path}.{delta.rel}",
        delta.message,
        impact,
        scope,
        delta.location,
    )


# -- shared property definitions ----------------------------------------------------------


def _shared_deltas(old: Plan, new: Plan) -> dict[str, tuple[Delta, ...]]:
    """Each shared definition's own differences, found once for all its uses."""
    return {
        name: definition_deltas(spec, new.properties[name], new.properties[name].location)
        for name, spec in old.properties.items()
        if name in new.properties
    }


def _shared(old: Plan, new: Plan, found: Mapping[str, tuple[Delta, ...]]) -> Iterator[Change]:
    """A shared definition's changes, reported once with every event, page or trait set that
    uses it in either plan; their workflows are the union of those events' `used_by`."""
    for name, deltas in found.items():
        if not deltas:
            continue
        uses = dict.fromkeys((*old.shared_uses(name), *new.shared_uses(name)))
        users = [*_events_using(old, name), *_events_using(new, name)]
        where = f"; used by {', '.join(uses)}" if uses else "; used nowhere"
        for delta in deltas:
            # An unused definition reaches no sender, whatever changed in it.
            kind: Kind = delta.kind if uses else "compatible"
            change = _change(delta, "shared", "properties", _workflows(users))
            yield Change(
                kind,
                change.code,
                change.path,
                f"shared {delta.message}{where}",
                change.impact,
                "shared",
                change.location,
            )
    for name in old.properties:
        if name not in new.properties:
            yield Change(
                "compatible",
                "shared_property_removed",
                f"properties.{name}",
                f"shared property '{name}' removed",
            )
    for name, spec in new.properties.items():
        if name not in old.properties:
            yield Change(
                "compatible",
                "shared_property_added",
                f"properties.{name}",
                f"shared property '{name}' added",
                location=spec.location,
                scope="shared",
            )


def _events_using(plan: Plan, name: str) -> Iterator[EventSpec]:
    for event in plan.events.values():
        sets = [event.properties, *(v.properties for v in event.versions)]
        if any(_uses(props, name) for props in sets):
            yield event


def _uses(props: tuple[PropertySpec, ...], name: str) -> bool:
    for prop in props:
        if prop.shared == name or _uses(prop.properties, name):
            return True
        if prop.items is not None and _uses((prop.items,), name):
            return True
    return False


# -- events ---------------------------------------------------------------------------------


def _events(old: Plan, new: Plan, explained: Mapping[str, frozenset[DeltaKey]]) -> Iterator[Change]:
    # An old name kept among a new event's aliases is that event renamed (or merged into it):
    # senders of the old name are renamed by the checks, so what they send is compared with
    # the new event property by property.
    renamed_to = {a: e for e in new.events.values() for a in e.aliases if a not in new.events}
    targets: set[str] = set()
    for name, before in old.events.items():
        after = new.events.get(name)
        if after is not None:
            yield from _event(before, after, explained)
            continue
        target = renamed_to.get(name)
        if target is None:
            yield Change(
                "breaking",
                "event_removed",
                f"events.{name}",
                f"event '{name}' removed",
                _workflows([before]),
                "event",
            )
            continue
        targets.add(target.name)
        yield Change(
            "compatible",
            "event_renamed",
            f"events.{target.name}",
            f"'{name}' renamed to '{target.name}' (kept as an alias, so senders still work; "
            f"destinations now receive '{target.name}')",
            _workflows([before, target]),
            "event",
            target.location,
        )
        yield from _event(before, target, explained, renamed_from=name)
    for name, event in new.events.items():
        if name not in old.events and name not in targets:
            yield Change(
                "compatible",
                "event_added",
                f"events.{name}",
                f"event '{name}' added",
                _workflows([event]),
                "event",
                event.location,
            )


def _event(
    before: EventSpec,
    after: EventSpec,
    explained: Mapping[str, frozenset[DeltaKey]],
    renamed_from: str | None = None,
) -> Iterator[Change]:
    path = f"events.{after.name}"
    impact = _workflows([before, after])
    where = after.location

    def change(kind: Kind, code: str, sub: str, message: str) -> Change:
        return Change(kind, code, f"{path}{sub}", message, impact, "event", where)

    for alias in before.aliases:
        if alias not in after.aliases:
            yield change(
                "breaking",
                "alias_removed",
                ".aliases",
                f"alias '{alias}' removed: senders still using it will be refused",
            )
    for alias in after.aliases:
        if alias not in before.aliases and alias != renamed_from:
            yield change("compatible", "alias_added", ".aliases", f"alias '{alias}' added")
    if not before.deprecated and after.deprecated:
        replacement = f" (use '{after.replaced_by}')" if after.replaced_by else ""
        yield change(
            "compatible", "event_deprecated", "", f"'{after.name}' deprecated{replacement}"
        )
    elif before.deprecated and not after.deprecated:
        yield change("compatible", "event_undeprecated", "", f"'{after.name}' no longer deprecated")
    if before.browser != after.browser:
        # Taking the flag away refuses what browser keys send today: a sender-visible break.
        yield change(
            "compatible" if after.browser else "breaking",
            "browser_allowed" if after.browser else "browser_disallowed",
            ".browser",
            f"browser keys may {'now' if after.browser else 'no longer'} send '{after.name}'",
        )
    # The stage is the plan's own bookkeeping: no message carries it, and Customer.io
    # workflows trigger on event names, properties and attributes, never on a plan's stage.
    for attr in ("stage", "description", "owner", "backfill", "replaced_by"):
        old_value, new_value = getattr(before, attr), getattr(after, attr)
        if old_value != new_value:
            yield change(
                "compatible",
                f"{attr}_changed",
                f".{attr}",
                f"{attr} changed from {show(old_value)} to {show(new_value)}",
            )
    if before.used_by != after.used_by:
        yield change(
            "compatible",
            "used_by_changed",
            ".used_by",
            f"used_by changed from {list(before.used_by)} to {list(after.used_by)}",
        )
    if not before.versions and after.versions:
        # The unversioned shape becomes the oldest version: what senders send today must fit
        # it, so it is what the old properties are compared with.
        first = after.versions[0]
        shape = after.version_properties(first)
        yield from _props(
            "event", f"{path}.properties", before.properties, shape, where, impact, explained
        )
    else:
        yield from _props(
            "event",
            f"{path}.properties",
            before.properties,
            after.properties,
            where,
            impact,
            explained,
        )
    yield from _versions(before, after, path, impact, explained)


def _versions(
    before: EventSpec,
    after: EventSpec,
    path: str,
    impact: tuple[str, ...],
    explained: Mapping[str, frozenset[DeltaKey]],
) -> Iterator[Change]:
    old_by_label = {v.label: v for v in before.versions}
    new_labels = {v.label for v in after.versions}
    for version in before.versions:
        if version.label not in new_labels:
            yield Change(
                "breaking",
                "version_removed",
                f"{path}.versions.{version.label}",
                f"version '{version.label}' removed: senders still sending its shape will be "
                "checked against the others",
                impact,
                "event",
                after.location,
            )
    for version in after.versions:
        vpath = f"{path}.versions.{version.label}"
        where = version.location or after.location
        old = old_by_label.get(version.label)
        if old is None:
            yield Change(
                "compatible",
                "version_added",
                vpath,
                f"version '{version.label}' added",
                impact,
                "event",
                where,
            )
            continue
        yield from _version(old, version, vpath, where, impact, explained)


def _version(
    old: EventVersion,
    new: EventVersion,
    vpath: str,
    where: Location | None,
    impact: tuple[str, ...],
    explained: Mapping[str, frozenset[DeltaKey]],
) -> Iterator[Change]:
    if old.deprecated != new.deprecated:
        code, said = (
            ("version_retired", "retired")
            if new.deprecated
            else (
                "version_restored",
                "no longer retired",
            )
        )
        # A retired version is still accepted (reported as `deprecated_version`).
        yield Change(
            "compatible", code, vpath, f"version '{new.label}' {said}", impact, "event", where
        )
    if old.description != new.description:
        yield Change(
            "compatible",
            "description_changed",
            vpath,
            f"version '{new.label}': description changed",
            impact,
            "event",
            where,
        )
    yield from _props(
        "event", f"{vpath}.properties", old.properties, new.properties, where, impact, explained
    )


# -- group traits, pages and screens --------------------------------------------------------


def _group(old: Plan, new: Plan, explained: Mapping[str, frozenset[DeltaKey]]) -> Iterator[Change]:
    a, b = old.group_traits, new.group_traits
    if a is None and b is not None:
        yield Change(
            "compatible",
            "group_traits_added",
            "group.traits",
            "group traits now planned",
            scope="group",
        )
    elif a is not None and b is None:
        # Without a `group:` section group calls are unchecked: nothing is refused any more.
        yield Change(
            "compatible",
            "group_traits_removed",
            "group.traits",
            "group traits no longer planned (group calls unchecked)",
            scope="group",
        )
        return
    yield from _props("group", "group.traits", a or (), b or (), None, (), explained)


def _pages(
    noun: Literal["page", "screen"],
    names: tuple[tuple[str, ...], tuple[str, ...]],
    before: Mapping[str, PageSpec],
    after: Mapping[str, PageSpec],
    explained: Mapping[str, frozenset[DeltaKey]],
) -> Iterator[Change]:
    """Properties of pages (or screens) planned in both plans. A page without a schema has
    unchecked properties: gaining one is compared as from no properties, losing one only
    stops checking (compatible). A page added or removed is its name's change alone."""
    old_names, new_names = names
    for name, spec in after.items():
        path = f"{noun}s.{name}.properties"
        old_spec = before.get(name)
        if old_spec is None:
            if name not in old_names:
                continue  # a new page: `page_added` says it all
            yield Change(
                "compatible",
                f"{noun}_properties_planned",
                path,
                f"{noun} '{name}' now plans its properties",
                scope=noun,
                location=spec.location,
            )
        yield from _props(
            noun,
            path,
            old_spec.properties if old_spec else (),
            spec.properties,
            spec.location,
            (),
            explained,
        )
    for name in before:
        if name not in after and name in new_names:
            yield Change(
                "compatible",
                f"{noun}_properties_unplanned",
                f"{noun}s.{name}.properties",
                f"{noun} '{name}' no longer plans its properties (they go unchecked)",
                scope=noun,
            )


def _name_lists(
    before: tuple[str, ...], after: tuple[str, ...], path: str, noun: str
) -> Iterator[Change]:
    # A page or screen name gone refuses the calls that use it; a stage is the plan's own
    # grouping, sent nowhere, so dropping one breaks no sender.
    removed: Kind = "compatible" if noun == "stage" else "breaking"
    scope: Scope = "page" if noun == "page" else "screen" if noun == "screen" else "plan"
    for name in before:
        if name not in after:
            yield Change(removed, f"{noun}_removed", path, f"{noun} '{name}' removed", scope=scope)
    for name in after:
        if name not in before:
            yield Change("compatible", f"{noun}_added", path, f"{noun} '{name}' added", scope=scope)


# -- policy ---------------------------------------------------------------------------------

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
    before = "none" if a is None else f"{a.missing_consent} (trait {show(a.trait)})"
    after = "none" if b is None else f"{b.missing_consent} (trait {show(b.trait)})"
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
