"""The tracking plan as an immutable model: events, properties, traits, policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, TypeVar

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
# The properties a page or screen call carries by the spec, whatever the plan says: never
# unplanned, and checked only when a page plans one of them itself.
# https://www.twilio.com/docs/segment/connections/spec/page (name, category and the
# automatically collected path, referrer, search, title, url, keywords) and
# https://www.twilio.com/docs/segment/connections/spec/screen (name, category).
PAGE_RESERVED: dict[str, PropertyType] = {
    "name": "string",
    "category": "string",
    "path": "string",
    "referrer": "string",
    "search": "string",
    "title": "string",
    "url": "string",
    "keywords": "array",
}
SCREEN_RESERVED: dict[str, PropertyType] = {"name": "string", "category": "string"}


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
    # Older names of a renamed property, still accepted (and renamed) during a migration.
    aliases: tuple[str, ...] = ()
    # The shared definition (a key of `Plan.properties`) this property is a use of, if any:
    # the spec itself is resolved, so checks and codegen never look the definition up.
    shared: str | None = None
    location: Location | None = field(default=None, compare=False, repr=False)

    def child(self, name: str) -> PropertySpec | None:
        """The nested property called `name` of an object property, if planned."""
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None


def find_property(props: tuple[PropertySpec, ...], name: str) -> PropertySpec | None:
    """The property called `name` among `props`, if any."""
    for prop in props:
        if prop.name == name:
            return prop
    return None


@dataclass(frozen=True, slots=True)
class EventVersion:
    """One live (or retired) shape of an event during a migration: properties on top of the
    event's own, which every version shares."""

    label: str
    description: str = ""
    # A retired version: still accepted, with a `deprecated_version` report.
    deprecated: bool = False
    properties: tuple[PropertySpec, ...] = ()
    location: Location | None = field(default=None, compare=False, repr=False)


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
    # Shapes valid at once during a migration (oldest first); a message matching any is valid.
    versions: tuple[EventVersion, ...] = ()
    location: Location | None = field(default=None, compare=False, repr=False)

    def property(self, name: str) -> PropertySpec | None:
        """The planned property called `name` (common to every version), if any."""
        return find_property(self.properties, name)

    def version(self, label: str) -> EventVersion | None:
        """The version labelled `label`, if any."""
        for version in self.versions:
            if version.label == label:
                return version
        return None

    def version_properties(self, version: EventVersion) -> tuple[PropertySpec, ...]:
        """Every property of one version: the event's own, then the version's."""
        return (*self.properties, *version.properties)

    def current_version(self) -> EventVersion | None:
        """The newest version not retired (the last live one written), if any."""
        live = [v for v in self.versions if not v.deprecated]
        return live[-1] if live else (self.versions[-1] if self.versions else None)


@dataclass(frozen=True, slots=True)
class PageSpec:
    """A page or screen that plans its own properties (beyond the reserved ones)."""

    name: str
    description: str = ""
    properties: tuple[PropertySpec, ...] = ()
    location: Location | None = field(default=None, compare=False, repr=False)

    def property(self, name: str) -> PropertySpec | None:
        """The planned property called `name`, if any."""
        return find_property(self.properties, name)


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


_V = TypeVar("_V")


def _frozen(mapping: Mapping[str, _V]) -> Mapping[str, _V]:
    return mapping if isinstance(mapping, MappingProxyType) else MappingProxyType(dict(mapping))


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LintAllow:
    """A lint finding the team accepts on purpose (`lint: {allow: [...]}`), and why.

    It names the finding by `code` and either the `names` it is about (the two events of a
    `near_duplicate`, in any order) or its `path` (`events.X.properties.y`). Without a reason it
    suppresses nothing and lint reports it.
    """

    code: str
    reason: str = ""
    names: tuple[str, ...] = ()
    path: str | None = None
    location: Location | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Plan:
    """A whole tracking plan, as loaded from `tracking-plan.yaml`."""

    name: str
    version: int
    events: Mapping[str, EventSpec] = field(default_factory=_empty)
    traits: tuple[PropertySpec, ...] = ()
    conventions: Conventions = Conventions()
    stages: tuple[str, ...] = DEFAULT_STAGES
    policy: Policy = Policy()
    # Every planned page and screen name (the allow-lists), in the order written.
    pages: tuple[str, ...] = ()
    screens: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION
    # The shared property library (`properties:`): one definition used by several events,
    # pages or traits; each use is resolved in place and names its definition (`shared`).
    properties: Mapping[str, PropertySpec] = field(default_factory=_empty)
    # The pages and screens (names among `pages`/`screens`) that plan their own properties;
    # a page listed without a schema has its properties left unchecked.
    page_specs: Mapping[str, PageSpec] = field(default_factory=_empty)
    screen_specs: Mapping[str, PageSpec] = field(default_factory=_empty)
    # The traits of a group call (`group:`); None when the plan has no group section.
    group_traits: tuple[PropertySpec, ...] | None = None
    # Lint findings accepted on purpose, each with its reason (`lint.allow`).
    lint_allow: tuple[LintAllow, ...] = ()
    source: str = field(default="<memory>", compare=False, repr=False)

    def __post_init__(self) -> None:
        # A plan is shared across threads; make its maps read-only as well.
        for name in ("events", "properties", "page_specs", "screen_specs"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def trait(self, name: str) -> PropertySpec | None:
        """The planned trait called `name`, if any."""
        for trait in self.traits:
            if trait.name == name:
                return trait
        return None

    def shared_uses(self, shared: str) -> tuple[str, ...]:
        """Where the shared property `shared` is used: `event 'X'`, `page 'Y'`, `traits`, ..."""
        return tuple(where for where, props in self.property_sets() if _uses(props, shared))

    def property_sets(self) -> tuple[tuple[str, tuple[PropertySpec, ...]], ...]:
        """Every planned set of top-level properties, each with a label saying whose it is."""
        sets: list[tuple[str, tuple[PropertySpec, ...]]] = [("traits", self.traits)]
        if self.group_traits is not None:
            sets.append(("group traits", self.group_traits))
        for event in self.events.values():
            sets.append((f"event '{event.name}'", event.properties))
            for version in event.versions:
                sets.append((f"event '{event.name}' {version.label}", version.properties))
        sets.extend((f"page '{p.name}'", p.properties) for p in self.page_specs.values())
        sets.extend((f"screen '{s.name}'", s.properties) for s in self.screen_specs.values())
        return tuple(sets)

    def browser_events(self) -> frozenset[str]:
        """The events an anonymous-only browser key may send (`browser: true`)."""
        return frozenset(name for name, event in self.events.items() if event.browser)

    def alias_map(self) -> dict[str, str]:
        """Old event names mapped to the planned name they were renamed to."""
        return {alias: event.name for event in self.events.values() for alias in event.aliases}


def _uses(props: tuple[PropertySpec, ...], shared: str) -> bool:
    """Whether any property in `props` (nested ones included) uses the shared `shared`."""
    for prop in props:
        if prop.shared == shared or _uses(prop.properties, shared):
            return True
        if prop.items is not None and _uses((prop.items,), shared):
            return True
    return False
