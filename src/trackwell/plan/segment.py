"""Import a Segment Protocols tracking plan: Public API responses or a Config API export.

Shapes read (Segment Public API reference, https://docs.segmentapis.com/tag/Tracking-Plans):
`Get Tracking Plan` answers `{"data": {"trackingPlan": {...}}}` and `List Rules from Tracking
Plan` answers `{"data": {"rules": [...], "pagination": {...}}}`; a rule is `{"type": "TRACK" |
"IDENTIFY" | "GROUP" | "PAGE" | "SCREEN" | "COMMON", "key", "version", "jsonSchema",
"deprecatedAt"}`, the event's description inside `jsonSchema`. The older Config API export
(`{"tracking_plan": {"display_name", "rules": {"events": [...], "identify": ..., "group": ...}}}`)
is read too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trackwell.plan.jsonschema import (
    DEFS,
    LEGACY_DEFS,
    ImportReport,
    SchemaImportError,
    event_from_schema,
    properties_from_schema,
)
from trackwell.plan.model import EventSpec, EventVersion, PageSpec, Plan, PropertySpec

# Segment's own sections of an event rule that carry no plan information of ours.
_IGNORED_SECTIONS = ("context",)
# Keys of a rule's root schema read here (the rest is reported).
_ROOT_KEYS = frozenset(
    {"$schema", "type", "properties", "required", "description", "title", DEFS, LEGACY_DEFS}
)
# Keys of a Public API rule that are bookkeeping, not plan content.
_RULE_BOOKKEEPING = frozenset({"createdAt", "updatedAt"})


@dataclass
class _Rules:
    """What the rules of one plan add up to, before versions are folded into events."""

    events: dict[str, list[tuple[int, bool, EventSpec]]] = field(default_factory=dict)
    traits: tuple[PropertySpec, ...] = ()
    group_traits: tuple[PropertySpec, ...] | None = None
    pages: dict[str, PageSpec] = field(default_factory=dict)
    screens: dict[str, PageSpec] = field(default_factory=dict)


def import_segment(*documents: Any) -> tuple[Plan, ImportReport]:
    """Map Segment tracking plan documents to a Plan; what cannot be mapped is reported."""
    labels = [f"[{n}]" if len(documents) > 1 else "" for n in range(len(documents))]
    return import_segment_documents(list(zip(labels, documents, strict=True)))


def import_segment_documents(documents: Sequence[tuple[str, Any]]) -> tuple[Plan, ImportReport]:
    """Map Segment documents, each with a label saying where it came from (its file name), to
    a Plan; the report's paths are JSON paths inside the labelled document."""
    report = ImportReport()
    plan_doc: dict[str, tuple[str, Any]] = {}  # the plan's own fields: key -> (path, value)
    public_rules: list[tuple[str, Any]] = []
    config_rules: dict[str, Any] | None = None
    seen_rules = False  # an empty List Rules page is still a list of rules
    for label, document in documents:
        prefix = f"{label}:" if label else ""
        meta, meta_path, rules, base = _unwrap(document)
        for key, value in meta.items():
            plan_doc[key] = (_join(prefix, meta_path, key), value)
        seen_rules = seen_rules or isinstance(rules, dict | list)
        if isinstance(rules, dict):
            config_rules = rules
        elif isinstance(rules, list):
            here = _join(prefix, base, "rules")
            public_rules.extend((f"{here}[{i}]", rule) for i, rule in enumerate(rules))
        _note_pagination(document, prefix, report)
    if not seen_rules:
        raise SchemaImportError(
            "no 'rules' in the document: is this a Segment tracking plan export? "
            "(pass the List Rules response beside the Get Tracking Plan one)"
        )
    collected = _Rules()
    if config_rules is not None:
        _config_api(config_rules, collected, report)
    _public_api(public_rules, collected, report)
    events = {name: _fold_versions(name, found, report) for name, found in collected.events.items()}
    for event in events.values():
        report.note(f"events.{event.name}", "Segment has no lifecycle stage; set 'stage' by hand")
    for key in ("description", "slug", "type", "labels"):
        if key in plan_doc and plan_doc[key][1]:
            report.note(plan_doc[key][0], "a plan has no equivalent field; dropped")
    named = plan_doc.get("display_name") or plan_doc.get("name")
    name = named[1] if named and named[1] else "Imported from Segment"
    plan = Plan(
        name=str(name),
        version=1,
        events=events,
        traits=collected.traits,
        group_traits=collected.group_traits,
        pages=tuple(collected.pages),
        screens=tuple(collected.screens),
        page_specs=collected.pages,
        screen_specs=collected.screens,
    )
    return plan, report


def _join(prefix: str, path: str, key: str) -> str:
    """`prefix` (a file label and colon, or nothing), then the JSON path `path.key`."""
    return prefix + (f"{path}.{key}" if path else key)


def _unwrap(document: Any) -> tuple[dict[str, Any], str, Any, str]:
    """The plan's own fields and their JSON path, its rules and the JSON path of the rules'
    parent, whichever envelope the document came in (`data`, `trackingPlan`, or none)."""
    if not isinstance(document, dict):
        raise SchemaImportError("a Segment tracking plan export is a JSON object")
    base, body = "", document
    if isinstance(body.get("data"), dict):
        base, body = "data", body["data"]
    for key in ("trackingPlan", "tracking_plan"):
        if isinstance(body.get(key), dict):
            inner = body[key]
            here = f"{base}.{key}" if base else key
            rules = inner.get("rules", body.get("rules"))
            return inner, here, rules, here if "rules" in inner else base
    meta = {k: v for k, v in body.items() if k in ("name", "display_name")}
    return meta, base, body.get("rules"), base


def _note_pagination(document: Any, prefix: str, report: ImportReport) -> None:
    """A List Rules page that says more pages follow: those rules are not in this import."""
    data = document.get("data") if isinstance(document, dict) else None
    pagination = data.get("pagination") if isinstance(data, dict) else None
    if isinstance(pagination, dict) and pagination.get("next"):
        report.note(
            f"{prefix}data.pagination",
            "more rules on a next page; fetch every page and pass them all",
        )


def _config_api(rules: dict[str, Any], into: _Rules, report: ImportReport) -> None:
    """The Config API's `rules` object: `events`, `identify`, `group`, `global`."""
    for index, rule in enumerate(rules.get("events") or []):
        path = f"rules.events[{index}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("name"), str):
            report.note(path, "event rule without a name; skipped")
            continue
        version = _version(rule)
        root = rule.get("rules")
        _add_event(
            into,
            rule["name"],
            version,
            False,
            rule.get("description"),
            root,
            f"{path}.rules",
            report,
        )
    into.traits = _section(rules.get("identify"), "traits", "rules.identify", report) or ()
    group = _section(rules.get("group"), "traits", "rules.group", report)
    into.group_traits = group if rules.get("group") else None
    if rules.get("global"):
        report.note("rules.global", "global rules (checks on every call) are not planned; dropped")


def _public_api(rules: list[tuple[str, Any]], into: _Rules, report: ImportReport) -> None:
    """The Public API's list of typed rules."""
    for path, rule in rules:
        if not isinstance(rule, dict):
            report.note(path, "not an object; skipped")
            continue
        kind = str(rule.get("type", "")).upper()
        key = rule.get("key")
        schema = rule.get("jsonSchema")
        for extra in rule:
            known = extra in ("type", "key", "version", "jsonSchema", "deprecatedAt")
            if not known and extra not in _RULE_BOOKKEEPING:
                report.note(f"{path}.{extra}", "has no equivalent in a trackwell plan; dropped")
        version = _version(rule)
        retired = bool(rule.get("deprecatedAt"))
        if kind == "TRACK" and isinstance(key, str):
            _add_event(into, key, version, retired, None, schema, f"{path}.jsonSchema", report)
        elif kind == "IDENTIFY":
            into.traits = _section(schema, "traits", f"{path}.jsonSchema", report) or ()
        elif kind == "GROUP":
            into.group_traits = _section(schema, "traits", f"{path}.jsonSchema", report) or ()
        elif kind in ("PAGE", "SCREEN") and isinstance(key, str) and key:
            table = into.pages if kind == "PAGE" else into.screens
            props = _section(schema, "properties", f"{path}.jsonSchema", report) or ()
            description = schema.get("description") if isinstance(schema, dict) else None
            table[key] = PageSpec(name=key, description=str(description or ""), properties=props)
        elif kind in ("PAGE", "SCREEN"):
            report.note(
                path,
                f"{kind} rule without a key applies to every {kind.lower()}; a plan plans "
                f"{kind.lower()} properties per name, so it is dropped",
            )
        elif kind == "COMMON":
            report.note(path, "COMMON rules (checks on every call) are not planned; dropped")
        else:
            report.note(path, f"{kind or 'untyped'} rule is not understood; dropped")


def _version(rule: dict[str, Any]) -> int:
    """A rule's version number (1 when it has none)."""
    value = rule.get("version")
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _add_event(
    into: _Rules,
    name: str,
    version: int,
    retired: bool,
    description: Any,
    root: Any,
    path: str,
    report: ImportReport,
) -> None:
    """One event rule (one version of an event): its description and `properties` section;
    `root` is the rule's JSON Schema, found at `path`."""
    root = root if isinstance(root, dict) else {}
    for key in root:
        if key not in _ROOT_KEYS:
            report.note(f"{path}.{key}", "has no equivalent in a trackwell plan; dropped")
    sections = root.get("properties", {})
    sections = sections if isinstance(sections, dict) else {}
    for section, body in sections.items():
        if section in _IGNORED_SECTIONS:
            if isinstance(body, dict) and body.get("properties"):
                report.note(
                    f"{path}.properties.{section}",
                    "context rules are not planned per event; dropped",
                )
        elif section == "traits":
            if isinstance(body, dict) and body.get("properties"):
                report.note(f"{path}.properties.traits", "traits sent with a track call; dropped")
        elif section != "properties":
            report.note(
                f"{path}.properties.{section}", "section has no equivalent in a trackwell plan"
            )
    props = sections.get("properties")
    event_schema = dict(props) if isinstance(props, dict) else {}
    event_schema.pop("type", None)
    for key in (DEFS, LEGACY_DEFS):  # `$ref`s inside the properties point at the root's
        if key in root:
            event_schema[key] = root[key]
    text = description if isinstance(description, str) else root.get("description")
    if isinstance(text, str):
        event_schema["description"] = text
    event = event_from_schema(event_schema, name, report, path=f"{path}.properties.properties")
    into.events.setdefault(name, []).append((version, retired, event))


def _fold_versions(
    name: str, found: list[tuple[int, bool, EventSpec]], report: ImportReport
) -> EventSpec:
    """One event from its rules: a single version as is; several as versions `vN`, the
    properties every version plans alike kept on the event, the rest on each version."""
    by_number = {entry[0]: entry for entry in found}  # the last rule of a version wins
    if len(by_number) != len(found):
        report.note(f"events.{name}", "the same version listed twice; the last is kept")
    found = [by_number[n] for n in sorted(by_number)]
    latest = found[-1][2]
    if len(found) == 1:
        return latest
    shapes = [event.properties for _, _, event in found]
    common = tuple(p for p in shapes[-1] if all(p in shape for shape in shapes))
    versions = tuple(
        EventVersion(
            label=f"v{number}",
            description=event.description if event.description != latest.description else "",
            deprecated=retired,
            properties=tuple(p for p in event.properties if p not in common),
        )
        for number, retired, event in found
    )
    return EventSpec(
        name=name,
        stage=None,
        description=latest.description,
        deprecated=latest.deprecated,
        properties=common,
        versions=versions,
    )


def _section(
    schema: Any, section: str, path: str, report: ImportReport
) -> tuple[PropertySpec, ...]:
    """The properties of one section (`traits`, `properties`) of a rule's JSON Schema."""
    if not isinstance(schema, dict):
        return ()
    sections = schema.get("properties", {})
    body = sections.get(section) if isinstance(sections, dict) else None
    if not isinstance(body, dict):
        return ()
    return properties_from_schema(body, f"{path}.{section}", report)
