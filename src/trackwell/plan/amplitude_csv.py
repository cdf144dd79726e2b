"""Import Amplitude Data's tracking plan CSV exports (events and user properties) as a plan.

Shape read (Amplitude's ".CSV import and export" reference,
https://amplitude.com/docs/data/csv-import-export): the events file has one row per event
(`Object Type` = `Event`) or property group (`Property Group`), followed by one row per
property (`Property Type` = `Event Property`, the property's cells filled and the object's
left blank); the user properties file has one row per user property (`Property Type` =
`User Property`, `Property Name`). Column names are matched without regard to case, since the
reference writes them in sentence case and the exports in title case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from trackwell.plan.csvplan import Row, Table, number, split_values, truthy
from trackwell.plan.jsonschema import ImportReport, SchemaImportError
from trackwell.plan.model import EventSpec, Plan, PropertySpec

# Columns every property row may fill (event property, group property, user property).
_VALUE_TYPES = {"string": "string", "number": "number", "boolean": "boolean"}


@dataclass
class _Object:
    """An event or property group being read, with the properties rows list under it."""

    kind: str
    name: str
    description: str
    line: int
    groups: list[str] = field(default_factory=list)
    properties: list[PropertySpec] = field(default_factory=list)


def import_amplitude_csv(files: Sequence[tuple[str, str]]) -> tuple[Plan, ImportReport]:
    """Map Amplitude CSV exports, given as (file name, text), to a Plan."""
    report = ImportReport()
    objects: list[_Object] = []
    traits: list[PropertySpec] = []
    for label, text in files:
        table = Table.parse(label, text)
        if table.has("Object Type"):
            objects.extend(_events_file(table, report))
        elif table.has("Property Name"):
            traits.extend(_user_properties_file(table, report))
        else:
            raise SchemaImportError(
                f"{label}: neither an events export ('Object Type' column) nor a user "
                "properties export ('Property Name' column)"
            )
        table.report_unread(report)
    groups = {o.name: o for o in objects if o.kind == "property group"}
    library = _library(groups, report)
    events: dict[str, EventSpec] = {}
    for obj in objects:
        if obj.kind != "event":
            continue
        if obj.name in events:
            report.note(f"events.{obj.name}", "listed twice; the first is kept")
            continue
        props = list(obj.properties)
        for group in obj.groups:
            if group not in groups:
                report.note(f"events.{obj.name}", f"property group {group!r} is not in the file")
                continue
            for prop in groups[group].properties:
                if any(p.name == prop.name for p in props):
                    continue  # the event's own row wins over the group's
                key = _library_key(group, prop, groups)
                props.append(
                    replace(library[key], name=prop.name, required=prop.required, shared=key)
                )
        events[obj.name] = EventSpec(
            name=obj.name, stage=None, description=obj.description, properties=tuple(props)
        )
        report.note(f"events.{obj.name}", "Amplitude has no lifecycle stage; set 'stage'")
    plan = Plan(
        name="Imported from Amplitude",
        version=1,
        events=events,
        traits=tuple(traits),
        properties=library,
    )
    return plan, report


def _library_key(group: str, prop: PropertySpec, groups: dict[str, _Object]) -> str:
    """The shared property name of a group's property: its own name, unless two groups
    plan the same name differently (then `<group>_<name>`)."""
    others = [
        p for g in groups.values() for p in g.properties if p.name == prop.name and g.name != group
    ]
    same = all(replace(p, required=False) == replace(prop, required=False) for p in others)
    return prop.name if same else f"{group}_{prop.name}"


def _library(groups: dict[str, _Object], report: ImportReport) -> dict[str, PropertySpec]:
    """Property groups as shared properties: each group property once, by name."""
    library: dict[str, PropertySpec] = {}
    for group in groups.values():
        for prop in group.properties:
            key = _library_key(group.name, prop, groups)
            library.setdefault(key, replace(prop, name=key, required=False))
    return library


def _events_file(table: Table, report: ImportReport) -> list[_Object]:
    """Events and property groups, each with the property rows that follow it."""
    objects: list[_Object] = []
    current: _Object | None = None
    skipping = False  # the rows under an object that is not planned go with it
    for row in table:
        where = f"{table.label}:{row.line}"
        action = row.get("Action").lower()
        kind = row.get("Object Type").lower()
        if kind in ("event", "property group"):
            current = _Object(kind, row.get("Object Name"), row.get("Object Description"), row.line)
            skipping = action in ("ignore", "remove")
            if skipping:
                report.note(
                    where, f"{kind} {current.name!r} marked {action!r}; it and its rows not planned"
                )
                row.skip()
                current = None
            elif not current.name:
                report.note(where, f"{kind} without an 'Object Name'; skipped")
                current = None
            else:
                current.groups = split_values(row.get("Property Group Names"))
                if kind == "event" and row.get("Event Activity").lower() == "inactive":
                    report.note(where, "inactive event; planned anyway (activity is not planned)")
                objects.append(current)
        elif kind:
            report.note(where, f"object type {kind!r} is not understood; row skipped")
        else:
            prop_kind = row.get("Property Type").lower()
            name = row.get("Event Property Name", "Property Name")
            if skipping:
                row.skip()
            elif current is None:
                report.note(where, "property row before any event or group; skipped")
            elif action in ("ignore", "remove"):
                report.note(where, f"property {name!r} marked {action!r}; not planned")
                row.skip()
            elif prop_kind not in ("event property", "property group property", ""):
                report.note(where, f"property type {prop_kind!r} is not understood; skipped")
            else:
                spec = _property(name, row, where, report)
                if spec is not None:
                    current.properties.append(spec)
        table.done(row)
    return objects


def _user_properties_file(table: Table, report: ImportReport) -> list[PropertySpec]:
    """The user properties export: one trait per row."""
    traits: list[PropertySpec] = []
    for row in table:
        where = f"{table.label}:{row.line}"
        action = row.get("Action").lower()
        name = row.get("Property Name")
        kind = row.get("Property Type").lower()
        if action in ("ignore", "remove"):
            report.note(where, f"user property {name!r} marked {action!r}; not planned")
            row.skip()
        elif kind and kind != "user property":
            report.note(where, f"property type {kind!r} is not a user property; skipped")
        else:
            spec = _property(name, row, where, report)
            if spec is not None:
                traits.append(spec)
        table.done(row)
    return traits


def _property(name: str, row: Row, where: str, report: ImportReport) -> PropertySpec | None:
    """One property row as a plan property (an array of it when `Property Is Array`)."""
    if not name:
        report.note(where, "property row without a name; skipped")
        return None
    value_type = row.get("Property Value Type").lower()
    enum: tuple[Any, ...] | None = None
    if value_type == "enum":
        enum = tuple(split_values(row.get("Enum Values"))) or None
        type_ = "string"
    elif value_type == "const":
        const = row.get("Const Value")
        enum = (const,) if const else None
        type_ = "string"
    elif value_type in _VALUE_TYPES:
        type_ = _VALUE_TYPES[value_type]
        if type_ == "number" and truthy(row.get("Number Is Integer")):
            type_ = "integer"
    else:
        shown = f"value type {value_type!r}" if value_type else "no value type (any value)"
        report.note(where, f"{name}: {shown} cannot be expressed as one plan type; skipped")
        row.skip()
        return None
    minimum = number(row.get("Number Property Value Min"))
    maximum = number(row.get("Number Property Value Max"))
    max_length = number(row.get("String Property Value Max Length"))
    pattern = row.get("Property Regex")
    for column in ("String Property Value Min Length", "Array Min Items", "Array Max Items"):
        if row.get(column):
            report.note(where, f"{name}: '{column}' has no equivalent; dropped")
    if truthy(row.get("Array Unique Items")):
        report.note(where, f"{name}: 'Array Unique Items' has no equivalent; dropped")
    scalar = PropertySpec(
        name=name,
        type=cast(Any, type_),
        enum=enum,
        minimum=minimum if type_ in ("number", "integer") else None,
        maximum=maximum if type_ in ("number", "integer") else None,
        pattern=pattern if type_ == "string" and pattern else None,
        max_length=int(max_length) if type_ == "string" and max_length is not None else None,
    )
    description = row.get("Property Description")
    required = truthy(row.get("Property Required"))
    if truthy(row.get("Property Is Array")):
        return PropertySpec(
            name=name,
            type="array",
            description=description,
            required=required,
            items=replace(scalar, name="items"),
        )
    return replace(scalar, description=description, required=required)
