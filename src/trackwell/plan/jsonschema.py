"""The plan as JSON Schema (draft 2020-12): export, and import back without loss."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from trackwell.core.consent import MISSING_CONSENT, ConsentPolicy
from trackwell.plan import naming
from trackwell.plan.dump import consent_document
from trackwell.plan.loader import CONVENTION_CHOICES, POLICY_CHOICES
from trackwell.plan.model import (
    DEFAULT_STAGES,
    FORMAT_VERSION,
    PROPERTY_TYPES,
    STRING_FORMATS,
    Conventions,
    EventSpec,
    Plan,
    Policy,
    PropertySpec,
    Scalar,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
MANIFEST = "plan.json"
TRAITS_FILE = "traits.schema.json"
# Extension keyword carrying what JSON Schema has no word for (stage, owner, used_by, ...).
EXT = "x-trackwell"

_JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
_UNDERSTOOD = frozenset(
    {
        "type", "description", "enum", "minimum", "maximum", "pattern", "format", "maxLength",
        "items", "properties", "required", "additionalProperties", "title", "$schema", "$id",
        "$comment", "deprecated", "examples", "default", EXT,
    }
)  # fmt: skip


# -- export ---------------------------------------------------------------------------------


def property_schema(prop: PropertySpec, *, closed: bool = True) -> dict[str, Any]:
    """The JSON Schema of one property (its `required` flag lives on the parent).

    `closed` sets `additionalProperties: false` on objects; the quality checks compile open
    schemas because they find unplanned properties themselves, to apply the plan's policy.
    """
    schema: dict[str, Any] = {}
    if prop.type == "timestamp":
        # Unix seconds or an ISO-8601 string; `format` only constrains the string branch.
        types: list[str] = ["string", "number"]
        schema[EXT] = {"type": "timestamp"}
        schema["format"] = "date-time"
    else:
        types = [_JSON_TYPES[prop.type]]
    if prop.nullable:
        types.append("null")
    schema["type"] = types[0] if len(types) == 1 else types
    if prop.description:
        schema["description"] = prop.description
    if prop.enum is not None:
        schema["enum"] = [*prop.enum, None] if prop.nullable else list(prop.enum)
    if prop.minimum is not None:
        schema["minimum"] = prop.minimum
    if prop.maximum is not None:
        schema["maximum"] = prop.maximum
    if prop.pattern is not None:
        schema["pattern"] = prop.pattern
    if prop.format is not None:
        schema["format"] = prop.format
    if prop.max_length is not None:
        schema["maxLength"] = prop.max_length
    if prop.items is not None:
        schema["items"] = property_schema(prop.items, closed=closed)
    if prop.type == "object":
        schema.update(object_schema(prop.properties, closed=closed))
    return schema


def object_schema(props: tuple[PropertySpec, ...], *, closed: bool = True) -> dict[str, Any]:
    """`properties`, `required` and `additionalProperties` for a set of planned properties."""
    schema: dict[str, Any] = {
        "properties": {p.name: property_schema(p, closed=closed) for p in props}
    }
    required = [p.name for p in props if p.required]
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def event_schema(event: EventSpec) -> dict[str, Any]:
    """The JSON Schema of one event's properties, with the plan's metadata under x-trackwell."""
    meta: dict[str, Any] = {"kind": "event"}
    for key in ("stage", "owner", "since", "backfill", "replaced_by"):
        value = getattr(event, key)
        if value is not None:
            meta[key] = value
    if event.used_by:
        meta["used_by"] = list(event.used_by)
    if event.aliases:
        meta["aliases"] = list(event.aliases)
    if event.browser:
        meta["browser"] = True
    schema: dict[str, Any] = {"$schema": DRAFT, "title": event.name}
    if event.description:
        schema["description"] = event.description
    if event.deprecated:
        schema["deprecated"] = True
    schema["type"] = "object"
    schema.update(object_schema(event.properties))
    schema[EXT] = meta
    return schema


def traits_schema(plan: Plan) -> dict[str, Any]:
    """The JSON Schema of the identify traits."""
    schema: dict[str, Any] = {"$schema": DRAFT, "title": "Traits", "type": "object"}
    schema.update(object_schema(plan.traits))
    schema[EXT] = {"kind": "traits"}
    return schema


def schema_filename(name: str, taken: set[str]) -> str:
    """A file name for an event's schema, unique among `taken` (names can collide when slugged)."""
    stem = naming.to_snake(name) or "event"
    candidate, n = f"{stem}.schema.json", 2
    while candidate in taken or candidate in (MANIFEST, TRAITS_FILE):
        candidate, n = f"{stem}_{n}.schema.json", n + 1
    taken.add(candidate)
    return candidate


def export_plan(plan: Plan) -> dict[str, dict[str, Any]]:
    """Every JSON document of the export, by file name: a manifest, traits, one per event."""
    taken: set[str] = set()
    files: dict[str, dict[str, Any]] = {}
    for event in plan.events.values():
        files[schema_filename(event.name, taken)] = event_schema(event)
    manifest: dict[str, Any] = {
        "trackwell": plan.format_version,
        "name": plan.name,
        "version": plan.version,
        "conventions": {
            "event_case": plan.conventions.event_case,
            "property_case": plan.conventions.property_case,
        },
        "stages": list(plan.stages),
        "policy": {
            "unplanned_event": plan.policy.unplanned_event,
            "unplanned_property": plan.policy.unplanned_property,
            "invalid_property": plan.policy.invalid_property,
            "sensitive_data": plan.policy.sensitive_data,
            **(
                {"consent": consent_document(plan.policy.consent)}
                if plan.policy.consent is not None
                else {}
            ),
        },
        "pages": list(plan.pages),
        "screens": list(plan.screens),
        "traits": TRAITS_FILE,
        "events": list(files),
    }
    return {MANIFEST: manifest, TRAITS_FILE: traits_schema(plan), **files}


def dumps(document: Mapping[str, Any]) -> str:
    """Stable, readable JSON text for an exported document."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- import ---------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import could not carry over, so nothing is dropped silently."""

    notes: list[str] = field(default_factory=list)

    def note(self, path: str, message: str) -> None:
        """Record one thing that was not mapped, at a path in the source."""
        self.notes.append(f"{path}: {message}")


class SchemaImportError(Exception):
    """A JSON Schema source that cannot be read at all."""


def property_from_schema(
    name: str, schema: Any, required: bool, path: str, report: ImportReport
) -> PropertySpec | None:
    """Map one JSON Schema to a plan property; what cannot be mapped goes to the report."""
    if not isinstance(schema, dict):
        report.note(path, "not a schema object; property skipped")
        return None
    for key in schema:
        if key not in _UNDERSTOOD:
            report.note(path, f"'{key}' has no equivalent in a trackwell plan; dropped")
    type_, nullable = _read_type(schema, path, report)
    if type_ is None:
        return None
    enum = _read_enum(schema, path, report, nullable)
    fmt = schema.get("format")
    if fmt is not None and (type_ != "string" or fmt not in STRING_FORMATS):
        if type_ != "timestamp":
            report.note(path, f"format {fmt!r} is not supported; dropped")
        fmt = None
    items = None
    if type_ == "array":
        if "items" in schema:
            items = property_from_schema("items", schema["items"], False, f"{path}.items", report)
        if items is None:
            report.note(path, "array without usable 'items'; elements typed as string")
            items = PropertySpec(name="items", type="string")
    children: tuple[PropertySpec, ...] = ()
    if type_ == "object":
        children = properties_from_schema(schema, path, report)
    return PropertySpec(
        name=name,
        type=type_,
        description=str(schema.get("description", "")),
        required=required,
        nullable=nullable,
        enum=enum,
        minimum=_number(schema, "minimum", path, report),
        maximum=_number(schema, "maximum", path, report),
        pattern=schema.get("pattern") if isinstance(schema.get("pattern"), str) else None,
        format=cast(Any, fmt),
        max_length=schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None,
        items=items,
        properties=children,
    )


def properties_from_schema(
    schema: dict[str, Any], path: str, report: ImportReport
) -> tuple[PropertySpec, ...]:
    """The planned properties of an object schema."""
    props = schema.get("properties") or {}
    if not isinstance(props, dict):
        report.note(path, "'properties' is not an object; skipped")
        return ()
    required = schema.get("required") or []
    specs = []
    for name, sub in props.items():
        spec = property_from_schema(name, sub, name in required, f"{path}.{name}", report)
        if spec is not None:
            specs.append(spec)
    return tuple(specs)


def _read_type(schema: dict[str, Any], path: str, report: ImportReport) -> tuple[Any, bool]:
    ext = schema.get(EXT)
    raw = schema.get("type")
    types = raw if isinstance(raw, list) else [raw] if raw is not None else []
    nullable = "null" in types
    types = [t for t in types if t != "null"]
    if isinstance(ext, dict) and ext.get("type") == "timestamp":
        return "timestamp", nullable
    if not types and "enum" in schema:
        values = [v for v in schema["enum"] if v is not None]
        types = [_infer_type(values)]
    if len(types) == 1 and types[0] in PROPERTY_TYPES and types[0] != "timestamp":
        type_ = types[0]
        if type_ == "string" and schema.get("format") == "date-time":
            return "timestamp", nullable
        return type_, nullable
    if set(types) == {"integer", "number"}:
        return "number", nullable
    if set(types) <= {"string", "number", "integer"} and schema.get("format") == "date-time":
        return "timestamp", nullable
    report.note(path, f"type {raw!r} cannot be expressed as one plan type; property skipped")
    return None, nullable


def _infer_type(values: list[Any]) -> str:
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def _read_enum(
    schema: dict[str, Any], path: str, report: ImportReport, nullable: bool
) -> tuple[Scalar, ...] | None:
    enum = schema.get("enum")
    if enum is None:
        return None
    if not isinstance(enum, list) or any(isinstance(v, dict | list) for v in enum):
        report.note(path, "enum with structured values is not supported; dropped")
        return None
    values = tuple(v for v in enum if v is not None or not nullable)
    return values or None


def _number(schema: dict[str, Any], key: str, path: str, report: ImportReport) -> float | None:
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        report.note(path, f"{key} {value!r} is not a number; dropped")
        return None
    return value


def event_from_schema(schema: dict[str, Any], name: str, report: ImportReport) -> EventSpec:
    """Map one event's JSON Schema (ours or anyone's) to a planned event."""
    path = f"events.{name}"
    for key in schema:
        if key not in _UNDERSTOOD:
            report.note(path, f"'{key}' has no equivalent in a trackwell plan; dropped")
    ext = schema.get(EXT)
    meta: dict[str, Any] = ext if isinstance(ext, dict) else {}
    return EventSpec(
        name=name,
        stage=meta.get("stage"),
        description=str(schema.get("description", "")),
        owner=meta.get("owner"),
        since=meta.get("since"),
        backfill=meta.get("backfill"),
        used_by=tuple(meta.get("used_by", ())),
        aliases=tuple(meta.get("aliases", ())),
        deprecated=bool(schema.get("deprecated", False)),
        replaced_by=meta.get("replaced_by"),
        properties=properties_from_schema(schema, f"{path}.properties", report),
        browser=meta.get("browser") is True,
    )


def import_directory(directory: str | Path) -> tuple[Plan, ImportReport]:
    """Read a directory written by `export_plan` (or any `*.json` event schemas) into a Plan."""
    root = Path(directory)
    if not root.is_dir():
        raise SchemaImportError(f"{root}: not a directory")
    documents: dict[str, Any] = {}
    for file in sorted(root.glob("*.json")):
        try:
            documents[file.name] = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SchemaImportError(f"{file}: not valid JSON ({exc})") from None
    if not documents:
        raise SchemaImportError(f"{root}: no *.json files")
    return import_documents(documents)


def import_documents(documents: Mapping[str, Any]) -> tuple[Plan, ImportReport]:
    """Build a Plan from JSON documents keyed by file name."""
    report = ImportReport()
    manifest = documents.get(MANIFEST)
    if not isinstance(manifest, dict):
        manifest = {}
        report.note(MANIFEST, "no manifest: plan name, version, stages and policy set to defaults")
    order = manifest.get("events") or [n for n in documents if n not in (MANIFEST, TRAITS_FILE)]
    events: dict[str, EventSpec] = {}
    traits: tuple[PropertySpec, ...] = ()
    traits_doc = documents.get(manifest.get("traits", TRAITS_FILE))
    if isinstance(traits_doc, dict):
        traits = properties_from_schema(traits_doc, "traits", report)
    for filename in order:
        doc = documents.get(filename)
        if not isinstance(doc, dict):
            report.note(filename, "missing or not a JSON object; skipped")
            continue
        meta = doc.get(EXT)
        if isinstance(meta, dict) and meta.get("kind") == "traits":
            traits = properties_from_schema(doc, "traits", report)
            continue
        name = doc.get("title") or re.sub(r"\.schema$", "", Path(filename).stem)
        if name in events:
            report.note(filename, f"second schema for event {name!r}; skipped")
            continue
        events[name] = event_from_schema(doc, name, report)
    plan = Plan(
        name=str(manifest.get("name", "Imported plan")),
        version=int(manifest.get("version", 1)),
        events=events,
        traits=traits,
        conventions=Conventions(**_settings(manifest, "conventions", CONVENTION_CHOICES, report)),
        stages=tuple(manifest.get("stages", DEFAULT_STAGES)),
        policy=Policy(
            **_settings(manifest, "policy", POLICY_CHOICES, report),
            consent=_consent(manifest, report),
        ),
        pages=tuple(manifest.get("pages", ())),
        screens=tuple(manifest.get("screens", ())),
        format_version=int(manifest.get("trackwell", FORMAT_VERSION)),
    )
    return plan, report


def _consent(manifest: dict[str, Any], report: ImportReport) -> ConsentPolicy | None:
    """The manifest's `policy.consent`, if it is one trackwell could have written."""
    policy = manifest.get("policy")
    value = policy.get("consent") if isinstance(policy, dict) else None
    if value is None:
        return None
    trait = value.get("trait") if isinstance(value, dict) else None
    missing = value.get("missing_consent") if isinstance(value, dict) else None
    if missing not in MISSING_CONSENT or not isinstance(trait, str | None):
        # Guessing here would enforce or skip consent without anyone deciding it.
        report.note(f"{MANIFEST}.policy.consent", f"not a consent policy {value!r}; left out")
        return None
    return ConsentPolicy(missing_consent=missing, trait=trait)


def _settings(
    manifest: dict[str, Any], key: str, table: dict[str, tuple[str, ...]], report: ImportReport
) -> Any:
    chosen: dict[str, str] = {}
    values = manifest.get(key, {})
    for name, value in values.items() if isinstance(values, dict) else ():
        if name == "consent" and key == "policy":
            continue  # read by `_consent`
        if value in table.get(name, ()):
            chosen[name] = value
        else:
            report.note(f"{MANIFEST}.{key}.{name}", f"unknown setting {value!r}; default used")
    return chosen
