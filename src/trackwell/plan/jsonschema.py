"""The plan as JSON Schema (draft 2020-12): export, and import back without loss."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from trackwell.core.consent import MISSING_CONSENT, ConsentPolicy
from trackwell.plan import naming
from trackwell.plan.dump import consent_document, lint_document
from trackwell.plan.lint import SEVERITY
from trackwell.plan.loader import CONVENTION_CHOICES, POLICY_CHOICES
from trackwell.plan.model import (
    DEFAULT_STAGES,
    FORMAT_VERSION,
    PROPERTY_TYPES,
    STRING_FORMATS,
    Conventions,
    EventSpec,
    EventVersion,
    LintAllow,
    PageSpec,
    Plan,
    Policy,
    PropertySpec,
    Scalar,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
MANIFEST = "plan.json"
TRAITS_FILE = "traits.schema.json"
# Written only when the plan has them, so the export of a plan without them is unchanged.
PROPERTIES_FILE = "properties.schema.json"
GROUP_FILE = "group.schema.json"
# Where an event's schema keeps the shared definitions it uses (each file stands alone).
DEFS = "$defs"
# Where drafts before 2019-09 keep reusable schemas; local `$ref`s may point here as well.
LEGACY_DEFS = "definitions"
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
# An event's schema may also carry the definitions it uses and its versions.
_EVENT_UNDERSTOOD = _UNDERSTOOD | {DEFS, LEGACY_DEFS, "anyOf", "unevaluatedProperties"}
# A property's schema may be a union of types (read by `_flatten_union`).
_PROPERTY_UNDERSTOOD = _UNDERSTOOD | {"anyOf", "oneOf"}
Library = Mapping[str, PropertySpec]
_NO_LIBRARY: Library = MappingProxyType({})


# -- export ---------------------------------------------------------------------------------


def property_schema(
    prop: PropertySpec, *, closed: bool = True, library: Library | None = None
) -> dict[str, Any]:
    """The JSON Schema of one property (its `required` flag lives on the parent).

    `closed` sets `additionalProperties: false` on objects; the quality checks compile open
    schemas because they find unplanned properties themselves, to apply the plan's policy.
    With a `library`, a use of a shared property is written as a `$ref` to `#/$defs/<name>`
    (the export's form); without one every property is written out (the checks' form).
    """
    if library is not None and prop.shared is not None and prop.shared in library:
        return _ref_schema(prop, library[prop.shared])
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
        schema["items"] = property_schema(prop.items, closed=closed, library=library)
    if prop.type == "object":
        schema.update(object_schema(prop.properties, closed=closed, library=library))
    if prop.aliases:
        schema.setdefault(EXT, {})["aliases"] = list(prop.aliases)
    return schema


def _ref_schema(prop: PropertySpec, definition: PropertySpec) -> dict[str, Any]:
    """A use of a shared property: a `$ref`, and the description when this use has its own."""
    schema: dict[str, Any] = {"$ref": f"#/{DEFS}/{prop.shared}"}
    if prop.description != definition.description:
        schema["description"] = prop.description
    return schema


def object_schema(
    props: tuple[PropertySpec, ...], *, closed: bool = True, library: Library | None = None
) -> dict[str, Any]:
    """`properties`, `required` and `additionalProperties` for a set of planned properties."""
    schema: dict[str, Any] = {
        "properties": {p.name: property_schema(p, closed=closed, library=library) for p in props}
    }
    required = [p.name for p in props if p.required]
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def _defs(library: Library, props: tuple[PropertySpec, ...]) -> dict[str, Any]:
    """`$defs` for the shared definitions `props` use (nested uses included), in library order."""
    used = _used_names(props)
    return {
        name: property_schema(spec, library=library)
        for name, spec in library.items()
        if name in used
    }


def _used_names(props: tuple[PropertySpec, ...]) -> set[str]:
    names: set[str] = set()
    for prop in props:
        if prop.shared is not None:
            names.add(prop.shared)
        names |= _used_names(prop.properties)
        if prop.items is not None:
            names |= _used_names((prop.items,))
    return names


def _with_defs(schema: dict[str, Any], library: Library, props: tuple[PropertySpec, ...]) -> None:
    """Add the `$defs` a schema's `$ref`s point to, right after its `$schema` and title."""
    defs = _defs(library, props)
    if defs:
        schema[DEFS] = defs


def _version_schema(version: EventVersion, library: Library) -> dict[str, Any]:
    """One branch of an event's `anyOf`: the properties a version adds, and its metadata."""
    schema: dict[str, Any] = {"title": version.label}
    if version.description:
        schema["description"] = version.description
    if version.deprecated:
        schema["deprecated"] = True
    schema.update(object_schema(version.properties, closed=False, library=library))
    schema[EXT] = {"version": version.label}
    return schema


def event_schema(event: EventSpec, library: Library = _NO_LIBRARY) -> dict[str, Any]:
    """The JSON Schema of one event's properties, with the plan's metadata under x-trackwell.

    Versions become an `anyOf` of what each adds, closed by `unevaluatedProperties: false`
    (which sees the properties of the branch that matched, unlike `additionalProperties`).
    """
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
    everything = (*event.properties, *(p for v in event.versions for p in v.properties))
    _with_defs(schema, library, everything)
    if event.versions:
        schema.update(object_schema(event.properties, closed=False, library=library))
        schema["anyOf"] = [_version_schema(v, library) for v in event.versions]
        schema["unevaluatedProperties"] = False
    else:
        schema.update(object_schema(event.properties, library=library))
    schema[EXT] = meta
    return schema


def traits_schema(plan: Plan) -> dict[str, Any]:
    """The JSON Schema of the identify traits."""
    return _properties_document("Traits", plan.traits, plan.properties, {"kind": "traits"})


def _properties_document(
    title: str,
    props: tuple[PropertySpec, ...],
    library: Library,
    meta: dict[str, Any],
    *,
    description: str = "",
    closed: bool = True,
) -> dict[str, Any]:
    """A standalone schema for one set of properties (traits, group traits, a page's)."""
    schema: dict[str, Any] = {"$schema": DRAFT, "title": title}
    if description:
        schema["description"] = description
    schema["type"] = "object"
    _with_defs(schema, library, props)
    schema.update(object_schema(props, closed=closed, library=library))
    schema[EXT] = meta
    return schema


def page_schema(kind: str, page: PageSpec, library: Library) -> dict[str, Any]:
    """The schema of one page's (or screen's) planned properties; the reserved ones are the
    sender's (name, url, path, ...), so the schema stays open to them."""
    return _properties_document(
        page.name,
        page.properties,
        library,
        {"kind": kind},
        description=page.description,
        closed=False,
    )


def library_schema(library: Library) -> dict[str, Any]:
    """The shared property library: one `$defs` entry per definition; `required` is the
    definition's default for its uses, kept under x-trackwell."""
    required = [name for name, spec in library.items() if spec.required]
    return {
        "$schema": DRAFT,
        "title": "Shared properties",
        DEFS: {name: property_schema(spec) for name, spec in library.items()},
        EXT: {"kind": "properties", **({"required": required} if required else {})},
    }


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
    extra: dict[str, dict[str, Any]] = {}
    if plan.properties:
        taken.add(PROPERTIES_FILE)
        extra[PROPERTIES_FILE] = library_schema(plan.properties)
    if plan.group_traits is not None:
        taken.add(GROUP_FILE)
        extra[GROUP_FILE] = _properties_document(
            "Group traits", plan.group_traits, plan.properties, {"kind": "group"}
        )
    files: dict[str, dict[str, Any]] = {}
    for event in plan.events.values():
        files[schema_filename(event.name, taken)] = event_schema(event, plan.properties)
    page_files: dict[str, list[str]] = {"page": [], "screen": []}
    for kind, specs in (("page", plan.page_specs), ("screen", plan.screen_specs)):
        for spec in specs.values():
            filename = schema_filename(f"{kind} {spec.name}", taken)
            extra[filename] = page_schema(kind, spec, plan.properties)
            page_files[kind].append(filename)
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
        **({"lint": lint_document(plan.lint_allow)} if plan.lint_allow else {}),
        "pages": list(plan.pages),
        "screens": list(plan.screens),
        "traits": TRAITS_FILE,
        "events": list(files),
    }
    if plan.properties:
        manifest["properties"] = PROPERTIES_FILE
    if plan.group_traits is not None:
        manifest["group"] = GROUP_FILE
    if page_files["page"]:
        manifest["page_schemas"] = page_files["page"]
    if page_files["screen"]:
        manifest["screen_schemas"] = page_files["screen"]
    return {MANIFEST: manifest, TRAITS_FILE: traits_schema(plan), **files, **extra}


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


@dataclass(frozen=True, slots=True)
class Definitions:
    """What a `$ref` may point to: the plan's shared library (a use), or the document's own
    `$defs`/`definitions` (a foreign schema's reuse, copied in place), keyed by `$ref` text."""

    library: Library = field(default_factory=dict)
    local: Mapping[str, Any] = field(default_factory=dict)
    # The `$ref`s being resolved around this point, to stop at a cycle instead of recursing.
    resolving: tuple[str, ...] = ()


_NO_DEFINITIONS = Definitions()


def property_from_schema(
    name: str,
    schema: Any,
    required: bool,
    path: str,
    report: ImportReport,
    defs: Definitions = _NO_DEFINITIONS,
) -> PropertySpec | None:
    """Map one JSON Schema to a plan property; what cannot be mapped goes to the report."""
    if not isinstance(schema, dict):
        report.note(path, "not a schema object; property skipped")
        return None
    if isinstance(schema.get("$ref"), str):
        return _from_ref(name, schema, required, path, report, defs)
    for key in schema:
        if key not in _PROPERTY_UNDERSTOOD:
            report.note(path, f"'{key}' has no equivalent in a trackwell plan; dropped")
    schema = _flatten_union(schema, path, report)
    type_, nullable = _read_type(name, schema, path, report)
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
            items = property_from_schema(
                "items", schema["items"], False, f"{path}.items", report, defs
            )
        if items is None:
            report.note(path, "array without usable 'items'; elements typed as string")
            items = PropertySpec(name="items", type="string")
    children: tuple[PropertySpec, ...] = ()
    if type_ == "object":
        children = properties_from_schema(schema, path, report, defs)
    ext = schema.get(EXT)
    aliases = ext.get("aliases") if isinstance(ext, dict) else None
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
        aliases=tuple(str(a) for a in aliases) if isinstance(aliases, list) else (),
    )


_REF_PREFIX = f"#/{DEFS}/"


def _from_ref(
    name: str,
    schema: dict[str, Any],
    required: bool,
    path: str,
    report: ImportReport,
    defs: Definitions,
) -> PropertySpec | None:
    """A `$ref` property: a use of a shared definition, or a local `$defs`/`definitions` entry
    copied in (a reference back into one being resolved is a cycle, reported and skipped)."""
    ref = cast(str, schema["$ref"])
    key = ref.removeprefix(_REF_PREFIX) if ref.startswith(_REF_PREFIX) else None
    for extra in schema:
        if extra not in ("$ref", "description"):
            report.note(path, f"'{extra}' beside $ref is not kept; dropped")
    definition = defs.library.get(key) if key is not None else None
    if definition is not None:
        return replace(
            definition,
            name=name,
            required=required,
            description=str(schema.get("description", definition.description)),
            shared=key,
        )
    local = defs.local.get(ref)
    if local is None:
        report.note(
            path, f"$ref {ref!r} does not point into this document's $defs or definitions; skipped"
        )
        return None
    if ref in defs.resolving:
        chain = " -> ".join((*defs.resolving[defs.resolving.index(ref) :], ref))
        report.note(path, f"$ref {ref!r} is a cycle ({chain}); property skipped")
        return None
    inner = replace(defs, resolving=(*defs.resolving, ref))
    spec = property_from_schema(name, local, required, path, report, inner)
    if spec is not None and "description" in schema:
        spec = replace(spec, description=str(schema["description"]))
    return spec


def properties_from_schema(
    schema: dict[str, Any],
    path: str,
    report: ImportReport,
    defs: Definitions = _NO_DEFINITIONS,
) -> tuple[PropertySpec, ...]:
    """The planned properties of an object schema."""
    props = schema.get("properties") or {}
    if not isinstance(props, dict):
        report.note(path, "'properties' is not an object; skipped")
        return ()
    required = schema.get("required") or []
    specs = []
    for name, sub in props.items():
        spec = property_from_schema(name, sub, name in required, f"{path}.{name}", report, defs)
        if spec is not None:
            specs.append(spec)
    return tuple(specs)


_UNIONS = ("anyOf", "oneOf")
# What a branch of a multi-type union may say and still be read as one plan type.
_BRANCH_KEYS = frozenset({"type", "format", "description"})
# Words that say a number-or-string value is a point in time (Unix seconds or ISO-8601 text).
_TIME_WORDS = re.compile(r"\b(time|timestamp|date|datetime|epoch|unix)\b", re.IGNORECASE)
_TIME_NAME = re.compile(r"(_at|At|_on|time|Time|timestamp|Timestamp|date|Date)$")


def _flatten_union(schema: dict[str, Any], path: str, report: ImportReport) -> dict[str, Any]:
    """A property-level `anyOf`/`oneOf` read as one schema when it can be: one branch plus
    `null` (nullable), or simple typed branches (a union of types); otherwise left as is, and
    `_read_type` reports what the union held."""
    if "type" in schema:  # a union beside a type constrains it further: not kept
        for beside in _UNIONS:
            if beside in schema:
                report.note(path, f"'{beside}' has no equivalent in a trackwell plan; dropped")
        return schema
    key = next((k for k in _UNIONS if isinstance(schema.get(k), list)), None)
    if key is None:
        return schema
    branches = schema[key]
    if not branches or not all(isinstance(b, dict) and "$ref" not in b for b in branches):
        return schema
    outer = {k: v for k, v in schema.items() if k != key}
    nulls = [b for b in branches if b.get("type") == "null"]
    rest = [b for b in branches if b.get("type") != "null"]
    if len(rest) == 1 and isinstance(rest[0].get("type"), str):
        merged = {**rest[0], **{k: v for k, v in outer.items() if k == "description"}}
        merged.update({k: v for k, v in outer.items() if k not in merged})
        if nulls:
            merged["type"] = [rest[0]["type"], "null"]
        return merged
    if not all(isinstance(b.get("type"), str) for b in rest):
        return schema
    types: list[str] = [b["type"] for b in rest] + (["null"] if nulls else [])
    # The union stays beside its types, so a report can say what the schema wrote.
    merged = {**schema, "type": types}
    for branch in rest:
        for extra in branch:
            if extra not in _BRANCH_KEYS:
                report.note(path, f"'{extra}' inside {key} is not kept; dropped")
        if "format" in branch and "format" not in merged:
            merged["format"] = branch["format"]
    return merged


def _described_as_time(name: str, schema: dict[str, Any]) -> bool:
    """Whether a property's description or name says it holds a point in time."""
    description = schema.get("description")
    if isinstance(description, str) and _TIME_WORDS.search(description):
        return True
    return bool(_TIME_NAME.search(name))


def _describe_type(schema: dict[str, Any]) -> str:
    """What a schema said about its type, in words, for a report (never `type None`)."""
    for key in _UNIONS:
        branches = schema.get(key)
        if isinstance(branches, list):
            shown = [
                repr(b.get("type"))
                if isinstance(b, dict) and "type" in b
                else f"$ref {b['$ref']!r}"
                if isinstance(b, dict) and "$ref" in b
                else "an untyped schema"
                for b in branches
            ]
            return f"{key} of {', '.join(shown) or 'nothing'}"
    if "type" in schema:
        return f"type {schema['type']!r}"
    return "a schema without 'type', 'enum', '$ref' or 'anyOf' (any value)"


def _read_type(
    name: str, schema: dict[str, Any], path: str, report: ImportReport
) -> tuple[Any, bool]:
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
    if set(types) <= {"string", "number", "integer"} and "string" in types and len(types) > 1:
        # Unix seconds or ISO-8601 text: the plan's timestamp, when the schema says it is a time.
        if schema.get("format") == "date-time":
            return "timestamp", nullable
        if _described_as_time(name, schema):
            report.note(path, "number-or-string read as timestamp: it is described as a time")
            return "timestamp", nullable
    report.note(
        path, f"{_describe_type(schema)} cannot be expressed as one plan type; property skipped"
    )
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


def _document_defs(schema: dict[str, Any], library: Library) -> Definitions:
    """The definitions a document's `$ref`s may use: the library, its `$defs` and its
    `definitions` (each keyed by the `$ref` text that points at it)."""
    local: dict[str, Any] = {}
    for section in (LEGACY_DEFS, DEFS):
        entries = schema.get(section)
        for key, entry in entries.items() if isinstance(entries, dict) else ():
            local[f"#/{section}/{key}"] = entry
    return Definitions(library, local)


def _versions_from_schema(
    schema: dict[str, Any], path: str, report: ImportReport, defs: Definitions
) -> tuple[EventVersion, ...]:
    """An event's `anyOf` branches as versions (label: x-trackwell version, title, or vN)."""
    branches = schema.get("anyOf")
    if branches is None:
        return ()
    if not isinstance(branches, list) or not all(isinstance(b, dict) for b in branches):
        report.note(path, "'anyOf' is not a list of schemas; dropped")
        return ()
    versions: list[EventVersion] = []
    for index, branch in enumerate(branches, 1):
        ext = branch.get(EXT)
        label = ext.get("version") if isinstance(ext, dict) else None
        label = str(label or branch.get("title") or f"v{index}")
        versions.append(
            EventVersion(
                label=label,
                description=str(branch.get("description", "")),
                deprecated=branch.get("deprecated") is True,
                properties=properties_from_schema(
                    branch, f"{path}.anyOf.{label}.properties", report, defs
                ),
            )
        )
    return tuple(versions)


def event_from_schema(
    schema: dict[str, Any],
    name: str,
    report: ImportReport,
    library: Library = _NO_LIBRARY,
    *,
    path: str | None = None,
) -> EventSpec:
    """Map one event's JSON Schema (ours or anyone's) to a planned event; `path` is where the
    schema sits in the source, for the report (default `events.<name>`)."""
    path = path if path is not None else f"events.{name}"
    for key in schema:
        if key not in _EVENT_UNDERSTOOD:
            report.note(path, f"'{key}' has no equivalent in a trackwell plan; dropped")
    defs = _document_defs(schema, library)
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
        properties=properties_from_schema(schema, f"{path}.properties", report, defs),
        browser=meta.get("browser") is True,
        versions=_versions_from_schema(schema, path, report, defs),
    )


def _library_from_schema(doc: Any, report: ImportReport) -> dict[str, PropertySpec]:
    """The shared property library from `properties.schema.json`."""
    if not isinstance(doc, dict) or not isinstance(doc.get(DEFS), dict):
        report.note(PROPERTIES_FILE, "missing or has no $defs; shared properties left out")
        return {}
    ext = doc.get(EXT)
    required = ext.get("required", []) if isinstance(ext, dict) else []
    library: dict[str, PropertySpec] = {}
    for name, sub in doc[DEFS].items():
        spec = property_from_schema(name, sub, name in required, f"properties.{name}", report)
        if spec is not None:
            library[name] = spec
    return library


def _pages_from_schemas(
    documents: Mapping[str, Any], files: Any, kind: str, library: Library, report: ImportReport
) -> dict[str, PageSpec]:
    """The pages (or screens) that plan properties, from the manifest's list of files."""
    specs: dict[str, PageSpec] = {}
    for filename in files if isinstance(files, list) else ():
        doc = documents.get(filename)
        if not isinstance(doc, dict) or not isinstance(doc.get("title"), str):
            report.note(str(filename), f"missing, or a {kind} schema without a title; skipped")
            continue
        name = doc["title"]
        specs[name] = PageSpec(
            name=name,
            description=str(doc.get("description", "")),
            properties=properties_from_schema(
                doc, f"{kind}s.{name}", report, _document_defs(doc, library)
            ),
        )
    return specs


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
    library: dict[str, PropertySpec] = {}
    if "properties" in manifest:
        library = _library_from_schema(documents.get(manifest["properties"]), report)
    group_traits: tuple[PropertySpec, ...] | None = None
    if "group" in manifest:
        group_doc = documents.get(manifest["group"])
        if isinstance(group_doc, dict):
            defs = _document_defs(group_doc, library)
            group_traits = properties_from_schema(group_doc, "group", report, defs)
        else:
            report.note(str(manifest["group"]), "missing; group traits left out")
    own = {MANIFEST, TRAITS_FILE, manifest.get("properties"), manifest.get("group")}
    for key in ("page_schemas", "screen_schemas"):
        files = manifest.get(key)
        own.update(files if isinstance(files, list) else ())
    order = manifest.get("events") or [n for n in documents if n not in own]
    events: dict[str, EventSpec] = {}
    traits: tuple[PropertySpec, ...] = ()
    traits_doc = documents.get(manifest.get("traits", TRAITS_FILE))
    if isinstance(traits_doc, dict):
        traits = properties_from_schema(
            traits_doc, "traits", report, _document_defs(traits_doc, library)
        )
    for filename in order:
        doc = documents.get(filename)
        if not isinstance(doc, dict):
            report.note(filename, "missing or not a JSON object; skipped")
            continue
        meta = doc.get(EXT)
        if isinstance(meta, dict) and meta.get("kind") == "traits":
            traits = properties_from_schema(doc, "traits", report, _document_defs(doc, library))
            continue
        name = doc.get("title") or re.sub(r"\.schema$", "", Path(filename).stem)
        if name in events:
            report.note(filename, f"second schema for event {name!r}; skipped")
            continue
        events[name] = event_from_schema(doc, name, report, library)
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
        properties=library,
        page_specs=_pages_from_schemas(
            documents, manifest.get("page_schemas"), "page", library, report
        ),
        screen_specs=_pages_from_schemas(
            documents, manifest.get("screen_schemas"), "screen", library, report
        ),
        group_traits=group_traits,
        lint_allow=_lint_allow(manifest, report),
    )
    return plan, report


def _lint_allow(manifest: dict[str, Any], report: ImportReport) -> tuple[LintAllow, ...]:
    """The manifest's `lint.allow`: entries trackwell could have written; others reported."""
    lint = manifest.get("lint")
    entries = lint.get("allow") if isinstance(lint, dict) else None
    found = []
    for index, entry in enumerate(entries if isinstance(entries, list) else ()):
        where = f"{MANIFEST}.lint.allow[{index}]"
        names = entry.get("names", []) if isinstance(entry, dict) else None
        path = entry.get("path") if isinstance(entry, dict) else None
        ok = (
            isinstance(entry, dict)
            and entry.get("code") in SEVERITY
            and isinstance(names, list)
            and all(isinstance(n, str) for n in names)
            and isinstance(path, str | None)
            and bool(names) != (path is not None)
            and isinstance(entry.get("reason", ""), str)
        )
        if not ok or not isinstance(entry, dict) or not isinstance(names, list):
            report.note(where, f"not a lint suppression {entry!r}; left out")
            continue
        found.append(LintAllow(entry["code"], entry.get("reason", ""), tuple(names), path))
    return tuple(found)


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
