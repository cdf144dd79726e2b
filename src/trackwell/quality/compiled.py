"""A plan compiled for checking: one fast validator per event, built once per plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from trackwell.plan import naming
from trackwell.plan.jsonschema import object_schema
from trackwell.plan.model import EventSpec, Plan, PropertySpec

# Unplanned names repeat (a misspelled event is sent thousands of times): remember suggestions.
_SUGGESTION_CACHE_LIMIT = 10_000


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

    @classmethod
    def build(cls, props: tuple[PropertySpec, ...]) -> CompiledProperties:
        """Compile a tuple of property specs."""
        schema = {"type": "object", **object_schema(props, closed=False)}
        return cls(
            specs={p.name: p for p in props},
            planned=frozenset(p.name for p in props),
            required=tuple(p.name for p in props if p.required),
            validator=jsonschema_rs.validator_for(schema, validate_formats=True),
            nested=tuple(
                p for p in props if p.properties or (p.items is not None and p.items.properties)
            ),
        )


@dataclass(frozen=True, slots=True)
class CompiledEvent:
    """One planned event with its compiled properties."""

    spec: EventSpec
    properties: CompiledProperties


@dataclass
class CompiledPlan:
    """Everything the checks need, derived once from a Plan."""

    plan: Plan
    events: dict[str, CompiledEvent]
    traits: CompiledProperties
    aliases: dict[str, str]
    pages: frozenset[str]
    screens: frozenset[str]
    _suggestions: dict[str, str | None] = field(default_factory=dict, repr=False)

    def suggest_event(self, name: str) -> str | None:
        """The planned event a sender of `name` most likely meant (aliases count), or None."""
        if name in self._suggestions:
            return self._suggestions[name]
        suggestion = naming.closest(name, self.events)
        if suggestion is None:
            alias = naming.closest(name, self.aliases)
            suggestion = self.aliases[alias] if alias is not None else None
        if len(self._suggestions) < _SUGGESTION_CACHE_LIMIT:
            self._suggestions[name] = suggestion
        return suggestion


def compile_plan(plan: Plan) -> CompiledPlan:
    """Compile a plan's events, traits and allow-lists for checking."""
    return CompiledPlan(
        plan=plan,
        events={
            name: CompiledEvent(spec, CompiledProperties.build(spec.properties))
            for name, spec in plan.events.items()
        },
        traits=CompiledProperties.build(plan.traits),
        aliases=plan.alias_map(),
        pages=frozenset(plan.pages),
        screens=frozenset(plan.screens),
    )
