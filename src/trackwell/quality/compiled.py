"""A plan compiled for checking: one fast validator per event, built once per plan."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from trackwell.plan import naming
from trackwell.plan.jsonschema import object_schema
from trackwell.plan.model import (
    PAGE_RESERVED,
    SCREEN_RESERVED,
    EventSpec,
    EventVersion,
    Plan,
    PropertySpec,
)

# Unplanned names repeat (a misspelled event is sent thousands of times): remember suggestions,
# the most recent ones when a sender invents more names than this.
_SUGGESTION_CACHE_LIMIT = 10_000


class SearchBudget:
    """How many new did-you-mean searches one request may still cause (the rest go without)."""

    __slots__ = ("left",)

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self) -> bool:
        """Spend one search; False when none is left."""
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass(frozen=True, slots=True)
class CompiledProperties:
    """A set of planned properties (an event's or the traits) ready to check against."""

    specs: dict[str, PropertySpec]
    planned: frozenset[str]
    required: tuple[str, ...]
    validator: Any  # jsonschema_rs validator; untyped library object
    # Planned properties that hold objects (directly or as array items): where nested
    # unplanned keys can hide.
    nested: tuple[PropertySpec, ...]
    # Older names of renamed properties, mapped to the planned name.
    aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, props: tuple[PropertySpec, ...], reserved: frozenset[str] = frozenset()
    ) -> CompiledProperties:
        """Compile a tuple of property specs; `reserved` names are never unplanned."""
        schema = {"type": "object", **object_schema(props, closed=False)}
        return cls(
            aliases={alias: p.name for p in props for alias in p.aliases},
            specs={p.name: p for p in props},
            planned=frozenset(p.name for p in props) | reserved,
            required=tuple(p.name for p in props if p.required),
            validator=jsonschema_rs.validator_for(schema, validate_formats=True),
            nested=tuple(
                p for p in props if p.properties or (p.items is not None and p.items.properties)
            ),
        )


@dataclass(frozen=True, slots=True)
class CompiledVersion:
    """One version of an event, compiled with the event's own properties and its additions."""

    spec: EventVersion
    properties: CompiledProperties


@dataclass(frozen=True, slots=True)
class CompiledEvent:
    """One planned event with its compiled properties (the common ones, for a versioned event)
    and its versions in the order a message is tried against them."""

    spec: EventSpec
    properties: CompiledProperties
    versions: tuple[CompiledVersion, ...] = ()

    @classmethod
    def build(cls, spec: EventSpec) -> CompiledEvent:
        """Compile an event; its versions are tried live ones first, newest first."""
        newest_first = spec.versions[::-1]
        order = [v for v in newest_first if not v.deprecated]
        order += [v for v in newest_first if v.deprecated]
        return cls(
            spec,
            CompiledProperties.build(spec.properties),
            tuple(
                CompiledVersion(v, CompiledProperties.build(spec.version_properties(v)))
                for v in order
            ),
        )


@dataclass
class CompiledPlan:
    """Everything the checks need, derived once from a Plan."""

    plan: Plan
    events: dict[str, CompiledEvent]
    traits: CompiledProperties
    aliases: dict[str, str]
    pages: frozenset[str]
    screens: frozenset[str]
    # The pages and screens that plan their properties, and the group traits (if planned).
    page_properties: dict[str, CompiledProperties] = field(default_factory=dict)
    screen_properties: dict[str, CompiledProperties] = field(default_factory=dict)
    group: CompiledProperties | None = None
    _suggestions: dict[tuple[str, str], str | None] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _indexes: dict[str, naming.NameIndex] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._indexes.update(
            event=naming.NameIndex(self.events),
            alias=naming.NameIndex(self.aliases),
            page=naming.NameIndex(self.pages),
            screen=naming.NameIndex(self.screens),
        )

    def suggest_event(self, name: str, budget: SearchBudget | None = None) -> str | None:
        """The planned event a sender of `name` most likely meant (aliases count), or None.

        With a `budget`, a name not seen before is searched only while the budget lasts.
        """
        return self._suggest("event", name, budget)

    def suggest_page(self, kind: str, name: str, budget: SearchBudget | None = None) -> str | None:
        """The planned page (or screen: `kind`) a sender of `name` most likely meant, or None."""
        return self._suggest(kind, name, budget)

    def _suggest(self, kind: str, name: str, budget: SearchBudget | None) -> str | None:
        key = (kind, name)
        found = self._suggestions.get(key, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        if budget is not None and not budget.take():
            return None
        analysed = naming.Analysed.of(name)
        suggestion = self._indexes[kind].closest(analysed)
        if suggestion is None and kind == "event":
            alias = self._indexes["alias"].closest(analysed)
            suggestion = self.aliases[alias] if alias is not None else None
        with self._lock:  # the gateway prepares large requests on a worker thread
            if len(self._suggestions) >= _SUGGESTION_CACHE_LIMIT:
                self._suggestions.pop(next(iter(self._suggestions)))
            self._suggestions[key] = suggestion
        return suggestion


_UNSEEN = object()


def compile_plan(plan: Plan) -> CompiledPlan:
    """Compile a plan's events, traits and allow-lists for checking."""
    return CompiledPlan(
        plan=plan,
        events={name: CompiledEvent.build(spec) for name, spec in plan.events.items()},
        traits=CompiledProperties.build(plan.traits),
        aliases=plan.alias_map(),
        pages=frozenset(plan.pages),
        screens=frozenset(plan.screens),
        page_properties={
            name: CompiledProperties.build(spec.properties, frozenset(PAGE_RESERVED))
            for name, spec in plan.page_specs.items()
        },
        screen_properties={
            name: CompiledProperties.build(spec.properties, frozenset(SCREEN_RESERVED))
            for name, spec in plan.screen_specs.items()
        },
        group=None if plan.group_traits is None else CompiledProperties.build(plan.group_traits),
    )
