"""Import a Segment Protocols tracking plan export (Config API or Public API JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trackwell.plan.jsonschema import (
    ImportReport,
    SchemaImportError,
    event_from_schema,
    properties_from_schema,
)
from trackwell.plan.model import EventSpec, Plan, PropertySpec

# Segment's own sections of an event rule that carry no plan information of ours.
_IGNORED_SECTIONS = ("context",)


def import_segment_file(path: str | Path) -> tuple[Plan, ImportReport]:
    """Read a Segment tracking plan export file into a Plan."""
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaImportError(f"{file}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SchemaImportError(f"{file}: not valid JSON ({exc})") from None
    return import_segment(document)


def import_segment(document: Any) -> tuple[Plan, ImportReport]:
    """Map a Segment tracking plan document to a Plan; what cannot be mapped is reported."""
    if not isinstance(document, dict):
        raise SchemaImportError("a Segment tracking plan export is a JSON object")
    wrapped = document.get("tracking_plan", document.get("trackingPlan"))
    plan_doc: dict[str, Any] = wrapped if isinstance(wrapped, dict) else document
    rules = plan_doc.get("rules")
    report = ImportReport()
    if isinstance(rules, dict):  # Config API: {"events": [...], "identify": {...}, ...}
        events, traits = _config_api(rules, report)
    elif isinstance(rules, list):  # Public API: [{"type": "TRACK", "key": ..., "jsonSchema": ...}]
        events, traits = _public_api(rules, report)
    else:
        raise SchemaImportError(
            "no 'rules' in the document: is this a Segment tracking plan export?"
        )
    for event in events.values():
        if event.stage is None:
            report.note(
                f"events.{event.name}", "Segment has no lifecycle stage; set 'stage' by hand"
            )
    name = plan_doc.get("display_name") or plan_doc.get("name") or "Imported from Segment"
    plan = Plan(name=str(name), version=1, events=events, traits=traits)
    return plan, report


def _config_api(
    rules: dict[str, Any], report: ImportReport
) -> tuple[dict[str, EventSpec], tuple[PropertySpec, ...]]:
    events: dict[str, EventSpec] = {}
    for index, rule in enumerate(rules.get("events") or []):
        if not isinstance(rule, dict) or not isinstance(rule.get("name"), str):
            report.note(f"rules.events[{index}]", "event rule without a name; skipped")
            continue
        _add_event(events, rule["name"], rule.get("description"), rule.get("rules"), report)
    traits = _traits(rules.get("identify"), "rules.identify", report)
    for section in ("global", "group"):
        if rules.get(section):
            report.note(
                f"rules.{section}",
                f"{section} rules have no equivalent in a trackwell plan; dropped",
            )
    return events, traits


def _public_api(
    rules: list[Any], report: ImportReport
) -> tuple[dict[str, EventSpec], tuple[PropertySpec, ...]]:
    events: dict[str, EventSpec] = {}
    traits: tuple[PropertySpec, ...] = ()
    for index, rule in enumerate(rules):
        path = f"rules[{index}]"
        if not isinstance(rule, dict):
            report.note(path, "not an object; skipped")
            continue
        kind = str(rule.get("type", "")).upper()
        if kind == "TRACK" and isinstance(rule.get("key"), str):
            _add_event(events, rule["key"], rule.get("description"), rule.get("jsonSchema"), report)
        elif kind == "IDENTIFY":
            traits = _traits(rule.get("jsonSchema"), path, report)
        else:
            report.note(
                path, f"{kind or 'untyped'} rule has no equivalent in a trackwell plan; dropped"
            )
    return events, traits


def _add_event(
    events: dict[str, EventSpec], name: str, description: Any, schema: Any, report: ImportReport
) -> None:
    path = f"events.{name}"
    if name in events:
        report.note(path, "listed twice (another version?); the first is kept")
        return
    sections = schema.get("properties", {}) if isinstance(schema, dict) else {}
    props_schema = sections.get("properties") if isinstance(sections, dict) else None
    for section in sections if isinstance(sections, dict) else {}:
        if section in _IGNORED_SECTIONS and sections[section].get("properties"):
            report.note(f"{path}.{section}", f"{section} rules are not planned per event; dropped")
        elif section not in ("properties", *_IGNORED_SECTIONS):
            report.note(
                f"{path}.{section}", "section has no equivalent in a trackwell plan; dropped"
            )
    event_schema = dict(props_schema) if isinstance(props_schema, dict) else {}
    event_schema.pop("type", None)
    if isinstance(description, str):
        event_schema["description"] = description
    events[name] = event_from_schema(event_schema, name, report)


def _traits(schema: Any, path: str, report: ImportReport) -> tuple[PropertySpec, ...]:
    if not isinstance(schema, dict):
        return ()
    sections = schema.get("properties", {})
    traits = sections.get("traits") if isinstance(sections, dict) else None
    if not isinstance(traits, dict):
        return ()
    return properties_from_schema(traits, f"{path}.traits", report)
