"""Import a Mixpanel Lexicon CSV export (events, event properties, profile properties).

Shape read: Mixpanel's Lexicon page (https://docs.mixpanel.com/docs/data-governance/lexicon,
"Export and Import Lexicon Data") documents what the export holds (events with their event
properties, and user profile properties; for each a name, display name, description, status
such as hidden or dropped, tags, owners) but shows its column layout only as a screenshot. So
columns are found by name, without regard to case, under the aliases listed here: an entity
column (`Entity Type`) says what a row is (`Event`, `Event Property`, `User Profile Property`);
an event property row belongs to the event named in its `Event Name` column when the file has
one, else to the event row above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from trackwell.plan.csvplan import Row, Table, truthy
from trackwell.plan.jsonschema import ImportReport, SchemaImportError
from trackwell.plan.model import EventSpec, Plan, PropertySpec

ENTITY = ("Entity Type", "Type of Entity", "Entity")
NAME = ("Entity Name", "Name")
DESCRIPTION = ("Entity Description", "Description")
PROPERTY_NAME = ("Property Name",)
PROPERTY_DESCRIPTION = ("Property Description",)
PROPERTY_TYPE = ("Property Type", "Data Type", "Type")
EVENT_NAME = ("Event Name", "Event")
REQUIRED = ("Property Required", "Required")
DROPPED = ("Entity Dropped", "Property Dropped", "Dropped")
# Lexicon's data types, lower-cased, as plan types (`list` holds strings unless told).
_TYPES = {
    "string": "string",
    "numeric": "number",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "object": "object",
    "date": "timestamp",
    "datetime": "timestamp",
}
_EVENT = ("event",)
_EVENT_PROPERTY = ("event property", "eventproperty", "event_property")
_PROFILE_PROPERTY = ("user profile property", "profile property", "user property", "user")


@dataclass
class _Event:
    """An event being read, with its properties in file order."""

    name: str
    description: str
    properties: list[PropertySpec] = field(default_factory=list)


def import_mixpanel_csv(files: Sequence[tuple[str, str]]) -> tuple[Plan, ImportReport]:
    """Map Mixpanel Lexicon CSV exports, given as (file name, text), to a Plan."""
    report = ImportReport()
    events: dict[str, _Event] = {}
    traits: list[PropertySpec] = []
    for label, text in files:
        table = Table.parse(label, text)
        if not table.has(*ENTITY):
            raise SchemaImportError(
                f"{label}: no entity column ({', '.join(ENTITY)}): is this a Lexicon export?"
            )
        _read(table, events, traits, report)
        table.report_unread(report)
    for event in events.values():
        report.note(f"events.{event.name}", "Mixpanel has no lifecycle stage; set 'stage'")
    plan = Plan(
        name="Imported from Mixpanel",
        version=1,
        events={
            e.name: EventSpec(
                name=e.name,
                stage=None,
                description=e.description,
                properties=tuple(e.properties),
            )
            for e in events.values()
        },
        traits=tuple(traits),
    )
    return plan, report


def _read(
    table: Table, events: dict[str, _Event], traits: list[PropertySpec], report: ImportReport
) -> None:
    """Every row of one Lexicon file, into events and traits."""
    current: _Event | None = None
    skipping = False  # the property rows under an event not planned go with it
    for row in table:
        where = f"{table.label}:{row.line}"
        entity = row.get(*ENTITY).lower()
        dropped = truthy(row.get(*DROPPED))
        if entity in _EVENT:
            name = row.get(*NAME)
            current = None
            skipping = dropped
            if not name:
                report.note(where, "event row without a name; skipped")
            elif dropped:
                report.note(
                    where, f"event {name!r} is dropped in Mixpanel; it and its rows not planned"
                )
                row.skip()
            elif name in events:
                report.note(where, f"event {name!r} listed twice; the first is kept")
                row.skip()
            else:
                current = events[name] = _Event(name, row.get(*DESCRIPTION))
        elif entity in _EVENT_PROPERTY or entity in _PROFILE_PROPERTY:
            name = row.get(*PROPERTY_NAME) or row.get(*NAME)
            if skipping and entity in _EVENT_PROPERTY and not row.get(*EVENT_NAME):
                row.skip()
            elif dropped:
                report.note(where, f"property {name!r} is dropped in Mixpanel; not planned")
                row.skip()
            elif entity in _PROFILE_PROPERTY:
                spec = _property(name, row, where, report)
                if spec is not None:
                    traits.append(spec)
            else:
                owner = _owner(row, current, events, where, report)
                spec = _property(name, row, where, report) if owner is not None else None
                if owner is not None and spec is not None:
                    owner.properties.append(spec)
        else:
            shown = repr(entity) if entity else "no entity type"
            report.note(where, f"{shown}: not an event or property row; skipped")
            row.skip()
        table.done(row)


def _owner(
    row: Row, current: _Event | None, events: dict[str, _Event], where: str, report: ImportReport
) -> _Event | None:
    """The event an event property row belongs to: named in the row, else the one above."""
    named = row.get(*EVENT_NAME)
    if named:
        if named not in events:
            report.note(where, f"property of event {named!r}, which no event row lists; skipped")
            row.skip()
            return None
        return events[named]
    if current is None:
        report.note(where, "event property with no event above it or named; skipped")
        row.skip()
    return current


def _property(name: str, row: Row, where: str, report: ImportReport) -> PropertySpec | None:
    """One property row as a plan property."""
    if not name:
        report.note(where, "property row without a name; skipped")
        return None
    raw = row.get(*PROPERTY_TYPE)
    type_ = _TYPES.get(raw.lower())
    if type_ is None:
        shown = f"type {raw!r}" if raw else "no type"
        report.note(where, f"{name}: {shown} cannot be expressed as one plan type; skipped")
        row.skip()
        return None
    items = None
    if type_ == "array":
        report.note(where, f"{name}: a List's element type is not in the export; typed string")
        items = PropertySpec(name="items", type="string")
    description = row.get(*PROPERTY_DESCRIPTION) or row.get(*DESCRIPTION)
    return PropertySpec(
        name=name,
        type=cast(Any, type_),
        description=description,
        required=truthy(row.get(*REQUIRED)),
        items=items,
    )
