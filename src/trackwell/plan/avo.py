"""Import an Avo tracking plan export (JSON, with a JSON Schema per event) as a plan.

Shape read (Avo's "Export Tracking Plan" API, https://www.avo.app/docs/avoapi/export-tracking-plan,
and its webhook payload model, https://www.avo.app/docs/workspace/tracking-plan/publishing):
`{"name", "events": [{"id", "name", "description", "tags", "categories", "sources",
"triggers", "rules": <JSON Schema draft-06 whose properties.properties holds the event's
properties>}], "metrics", "sources", "destinations", "categories", "context"}`. Avo adds `id`,
`index` and `nameMapping` beside each property's schema: ids and positions are Avo's
bookkeeping and are left out quietly; a non-empty `nameMapping` (a per-destination name) is
reported.
"""

from __future__ import annotations

from typing import Any

from trackwell.plan.jsonschema import (
    DEFS,
    LEGACY_DEFS,
    ImportReport,
    SchemaImportError,
    event_from_schema,
)
from trackwell.plan.model import EventSpec, Plan

# Avo's bookkeeping beside a property's schema: no plan meaning, not reported.
_BOOKKEEPING = ("id", "index")
# Top-level sections of the export that describe Avo's workspace rather than the events.
_WORKSPACE = ("metrics", "sources", "destinations", "categories")
# Event fields read here (the rest, when not empty, are reported).
_EVENT_KEYS = frozenset({"id", "name", "description", "rules"})
_ROOT_KEYS = frozenset(
    {"$schema", "type", "properties", "required", "nameMapping", DEFS, LEGACY_DEFS}
)


def import_avo(document: Any) -> tuple[Plan, ImportReport]:
    """Map an Avo export document to a Plan; what cannot be mapped is reported."""
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise SchemaImportError("an Avo export is a JSON object with an 'events' list")
    report = ImportReport()
    events: dict[str, EventSpec] = {}
    for index, entry in enumerate(document["events"]):
        path = f"events[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            report.note(path, "event without a name; skipped")
            continue
        name = entry["name"]
        if name in events:
            report.note(path, f"a second event named {name!r}; the first is kept")
            continue
        for key, value in entry.items():
            if key not in _EVENT_KEYS and value:
                report.note(f"{path}.{key}", "has no equivalent in a trackwell plan; dropped")
        events[name] = _event(name, entry, path, report)
        report.note(f"events.{name}", "Avo has no lifecycle stage; set 'stage' by hand")
    for key in _WORKSPACE:
        if document.get(key):
            report.note(key, "Avo workspace data, not part of a plan; dropped")
    plan = Plan(name=str(document.get("name") or "Imported from Avo"), version=1, events=events)
    return plan, report


def _event(name: str, entry: dict[str, Any], path: str, report: ImportReport) -> EventSpec:
    """One Avo event: its description and the `properties` section of its rules."""
    rules = entry.get("rules")
    rules = rules if isinstance(rules, dict) else {}
    for key in rules:
        if key not in _ROOT_KEYS:
            report.note(f"{path}.rules.{key}", "has no equivalent in a trackwell plan; dropped")
    _name_mapping(rules, f"{path}.rules", report)
    sections = rules.get("properties")
    sections = sections if isinstance(sections, dict) else {}
    for section in sections:
        if section != "properties":
            report.note(f"{path}.rules.properties.{section}", "section is not planned; dropped")
    props = sections.get("properties")
    schema = _without_bookkeeping(props, f"{path}.rules.properties.properties", report)
    schema = dict(schema) if isinstance(schema, dict) else {}
    schema.pop("type", None)
    for key in (DEFS, LEGACY_DEFS):
        if key in rules:
            schema[key] = rules[key]
    if isinstance(entry.get("description"), str):
        schema["description"] = entry["description"]
    return event_from_schema(schema, name, report, path=f"{path}.rules.properties.properties")


def _name_mapping(schema: dict[str, Any], path: str, report: ImportReport) -> None:
    """Report a non-empty `nameMapping` (the name a destination receives instead)."""
    if schema.get("nameMapping"):
        report.note(f"{path}.nameMapping", "per-destination names are not planned; dropped")


def _without_bookkeeping(schema: Any, path: str, report: ImportReport) -> Any:
    """An object schema with Avo's `id`/`index`/`nameMapping` taken off every property."""
    if not isinstance(schema, dict):
        return schema
    props = schema.get("properties")
    if not isinstance(props, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for name, sub in props.items():
        child = f"{path}.properties.{name}"
        if isinstance(sub, dict):
            _name_mapping(sub, child, report)
            sub = {k: v for k, v in sub.items() if k not in (*_BOOKKEEPING, "nameMapping")}
            sub = _without_bookkeeping(sub, child, report)
            if isinstance(sub.get("items"), dict):
                sub["items"] = _without_bookkeeping(sub["items"], f"{child}.items", report)
        cleaned[name] = sub
    return {**schema, "properties": cleaned}
