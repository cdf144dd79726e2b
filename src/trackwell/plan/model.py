"""The tracking plan as an immutable model: events, properties, traits, policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, TypeAlias

from trackwell.core.consent import ConsentPolicy

PropertyType: TypeAlias = Literal[
    "string", "integer", "number", "boolean", "timestamp", "array", "object"
]
PROPERTY_TYPES: tuple[PropertyType, ...] = (
    "string",
    "integer",
    "number",
    "boolean",
    "timestamp",
    "array",
    "object",
)
StringFormat: TypeAlias = Literal["email", "uri", "date-time"]
STRING_FORMATS: tuple[StringFormat, ...] = ("email", "uri", "date-time")
EventCase: TypeAlias = Literal["title", "snake"]
PropertyCase: TypeAlias = Literal["snake", "camel"]
Backfill: TypeAlias = Literal["backfilled", "new-only"]
Scalar: TypeAlias = str | int | float | bool | None

DEFAULT_STAGES: tuple[str, ...] = (
    "Acquisition",
    "Activation",
    "Engagement",
    "Retention",
    "Expansion",
    "Churn",
)
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Location:
    """Where a thing was written: file, 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One typed property of an event, a trait, or a field of a nested object."""

    name: str
    type: PropertyType
    description: str = ""
    required: bool = False
    nullable: bool = False
    enum: tuple[Scalar, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    format: StringFormat | None = None
    max_length: int | None = None
    items: PropertySpec | None = None
    properties: tuple[PropertySpec, ...] = ()
    location: Location | None = field(default=None, compare=False, repr=False)

    def child(self, name: str) -> PropertySpec | None:
        """The nested property called `name` of an object property, if planned."""
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One planned event: its lifecycle stage, documentation and properties."""

    name: str
    stage: str | None
    description: str = ""
    owner: str | None = None
    since: int | None = None
    backfill: Backfill | None = None
    used_by: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    deprecated: bool = False
    replaced_by: str | None = None
    properties: tuple[PropertySpec, ...] = ()
    # Whether anonymous-only browser keys (public, in every page's source) may send it.
    browser: bool = False
    location: Location | None = field(default=None, compare=False, repr=False)

    def property(self, name: str) -> PropertySpec | None:
        """The planned property called `name`, if any."""
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None


@dataclass(frozen=True, slots=True)
class Conventions:
    """Naming conventions every planned name is linted against."""

    event_case: EventCase = "title"
    property_case: PropertyCase = "snake"


UnplannedEventPolicy: TypeAlias = Literal["block", "allow"]
UnplannedPropertyPolicy: TypeAlias = Literal["block", "omit", "allow"]
InvalidPropertyPolicy: TypeAlias = Literal["block", "allow"]
SensitiveDataPolicy: TypeAlias = Literal["block", "redact"]


@dataclass(frozen=True, slots=True)
class Policy:
    """What the pipeline does with each kind of violation."""

    unplanned_event: UnplannedEventPolicy = "block"
    unplanned_property: UnplannedPropertyPolicy = "omit"
    invalid_property: InvalidPropertyPolicy = "block"
    sensitive_data: SensitiveDataPolicy = "redact"
    # `policy.consent`: where a person's consent is read and what no consent information
    # means; None when the plan says nothing (then no destination may require consent).
    consent: ConsentPolicy | None = None


def _frozen_events(events: Mapping[str, EventSpec]) -> Mapping[str, EventSpec]:
    return MappingProxyType(dict(events))


@dataclass(frozen=True, slots=True)
class Plan:
    """A whole tracking plan, as loaded from `tracking-plan.yaml`."""

    name: str
    version: int
    events: Mapping[str, EventSpec] = field(default_factory=lambda: MappingProxyType({}))
    traits: tuple[PropertySpec, ...] = ()
    conventions: Conventions = Conventions()
    stages: tuple[str, ...] = DEFAULT_STAGES
    policy: Policy = Policy()
    pages: tuple[str, ...] = ()
    screens: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION
    source: str = field(default="<memory>", compare=False, repr=False)

    def __post_init__(self) -> None:
        # A plan is shared across threads; make its event map read-only as well.
        if not isinstance(self.events, MappingProxyType):
            object.__setattr__(self, "events", _frozen_events(self.events))

    def trait(self, name: str) -> PropertySpec | None:
        """The planned trait called `name`, if any."""
        for trait in self.traits:
            if trait.name == name:
                return trait
        return None

    def browser_events(self) -> frozenset[str]:
        """The events an anonymous-only browser key may send (`browser: true`)."""
        return frozenset(name for name, event in self.events.items() if event.browser)

    def alias_map(self) -> dict[str, str]:
        """Old event names mapped to the planned name they were renamed to."""
        return {alias: event.name for event in self.events.values() for alias in event.aliases}
