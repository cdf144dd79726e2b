"""Import a RudderStack Data Catalog project (rudder-cli YAML) as a plan.

Shapes read (RudderStack's YAML reference,
https://www.rudderstack.com/docs/dev-tools/rudder-cli/yaml-data-catalog-and-tracking-plans/):
documents `{version, kind, metadata: {name}, spec}` of kind `properties` (`spec.properties`:
`id`, `name`, `type` or `types`, `description`, `config`/`propConfig`), `events`
(`spec.events`: `id`, `name`, `event_type`, `description`, `category`), `custom-types`
(`spec.types`) and `tp`/`tracking-plan` (`spec.rules`: `event_rule`s whose `event` and
`properties` refer to catalog entries). Both reference styles are read: `rudder/v0.1`'s
`$ref: "#/properties/<group>/<id>"` and `rudder/v1`'s `"#property:<id>"`.

Catalog properties become the plan's shared properties (`use:`); the rules say which event
uses which, and whether it is required there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

from trackwell.plan.jsonschema import ImportReport, SchemaImportError
from trackwell.plan.model import STRING_FORMATS, EventSpec, Plan, PropertySpec, Scalar

VERSIONS = ("rudder/v0.1", "rudder/0.1", "rudder/v1")
PLAN_KINDS = ("tp", "tracking-plan")
# `#/properties/<group>/<id>` (v0.1) or `#property:<id>` (v1); the id is what identifies.
_REF = re.compile(r"^#(?:/(?P<kind>[a-z-]+)/[^/]+/|(?P<urn>[a-z-]+):)(?P<id>.+)$")
_PLAIN_TYPES = ("string", "integer", "number", "boolean", "array", "object")
# Config keywords read into the property; the rest are reported.
_CONFIG_READ = frozenset(
    {
        "enum", "pattern", "minimum", "maximum", "maxLength", "max_length", "format",
        "itemTypes", "item_types", "itemType", "item_type",
    }
)  # fmt: skip


class _Catalog:
    """The project's catalog entries by id, and what the import reports about them."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.properties: dict[str, tuple[str, dict[str, Any]]] = {}
        self.events: dict[str, tuple[str, dict[str, Any]]] = {}
        self.types: dict[str, tuple[str, dict[str, Any]]] = {}
        self.plans: list[tuple[str, dict[str, Any]]] = []
        # Catalog properties built so far (by id); the ones some rule uses as is are shared.
        self.built: dict[str, PropertySpec | None] = {}
        self.library: dict[str, PropertySpec] = {}
        self.library_ids: dict[str, str] = {}
        self.used_events: set[str] = set()

    def add(self, where: str, document: Any) -> None:
        """File one YAML document's entries under their ids; `where` names the document."""
        if not isinstance(document, dict):
            self.report.note(where, "not a YAML mapping; skipped")
            return
        version, kind, spec = document.get("version"), document.get("kind"), document.get("spec")
        if version not in VERSIONS:
            self.report.note(f"{where}:version", f"spec version {version!r} not known; read as is")
        if not isinstance(spec, dict):
            self.report.note(where, f"kind {kind!r} without a 'spec' mapping; skipped")
            return
        tables = {"properties": ("properties", self.properties), "events": ("events", self.events)}
        tables["custom-types"] = ("types", self.types)
        if kind in tables:
            key, table = tables[str(kind)]
            for n, entry in enumerate(spec.get(key) or []):
                path = f"{where}:spec.{key}[{n}]"
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    table[entry["id"]] = (path, entry)
                else:
                    self.report.note(path, "entry without an 'id'; skipped")
        elif kind in PLAN_KINDS:
            self.plans.append((f"{where}:spec", spec))
        elif kind == "categories":
            self.report.note(f"{where}", "event categories have no equivalent; dropped")
        else:
            self.report.note(f"{where}:kind", f"kind {kind!r} is not a Data Catalog kind; skipped")


def import_rudderstack(documents: Sequence[tuple[str, Any]]) -> tuple[Plan, ImportReport]:
    """Map the parsed YAML documents of a rudder-cli project, each with a label saying where
    it came from (file name, and `#n` for the n-th document of a file), to a Plan."""
    report = ImportReport()
    catalog = _Catalog(report)
    for where, document in documents:
        catalog.add(where, document)
    if not catalog.plans:
        raise SchemaImportError(
            "no tracking plan (a document of kind 'tp' or 'tracking-plan') in the project"
        )
    path, spec = catalog.plans[0]
    for other, _ in catalog.plans[1:]:
        report.note(other, "a second tracking plan; import it on its own (pass only its files)")
    events: dict[str, EventSpec] = {}
    traits: tuple[PropertySpec, ...] = ()
    group: tuple[PropertySpec, ...] | None = None
    for n, rule in enumerate(spec.get("rules") or []):
        rule_path = f"{path}.rules[{n}]"
        found = _rule(rule, rule_path, catalog)
        if found is None:
            continue
        kind, event, props = found
        if kind == "track":
            if event.name in events:
                report.note(rule_path, f"a second rule for {event.name!r}; the first is kept")
                continue
            events[event.name] = replace(event, properties=props)
        elif kind == "identify":
            traits = props
        elif kind == "group":
            group = props
        else:
            report.note(
                rule_path,
                f"a {kind} rule applies to every {kind}; a plan plans {kind} properties per "
                "name, so it is dropped",
            )
    for event_id, (event_path, _) in catalog.events.items():
        if event_id not in catalog.used_events:
            report.note(event_path, "catalog event in no rule of the tracking plan; not planned")
    for event in events.values():
        report.note(f"events.{event.name}", "RudderStack has no lifecycle stage; set 'stage'")
    if spec.get("description"):
        report.note(f"{path}.description", "a plan has no description; dropped")
    plan = Plan(
        name=str(spec.get("display_name") or spec.get("id") or "Imported from RudderStack"),
        version=1,
        events=events,
        traits=traits,
        group_traits=group,
        properties=catalog.library,
    )
    return plan, report


def _rule(
    rule: Any, path: str, catalog: _Catalog
) -> tuple[str, EventSpec, tuple[PropertySpec, ...]] | None:
    """One `event_rule`: the event's kind, the event, and the properties the rule plans."""
    report = catalog.report
    if not isinstance(rule, dict) or rule.get("type") != "event_rule":
        report.note(path, "not an event_rule; skipped")
        return None
    target = rule.get("event")
    ref = target.get("$ref") if isinstance(target, dict) else target
    event_id = _ref_id(ref, ("events", "event"))
    if event_id is None or event_id not in catalog.events:
        report.note(f"{path}.event", f"refers to no catalog event ({ref!r}); rule skipped")
        return None
    catalog.used_events.add(event_id)
    event_path, entry = catalog.events[event_id]
    kind = str(entry.get("event_type", "track"))
    name = entry.get("name")
    if kind == "track" and not isinstance(name, str):
        report.note(event_path, "track event without a 'name'; rule skipped")
        return None
    unplanned = target.get("allow_unplanned") if isinstance(target, dict) else None
    for flag, value in (("event.allow_unplanned", unplanned), *_rule_flags(rule)):
        if value is True:
            report.note(
                f"{path}.{flag}",
                "per-event unplanned properties: the plan's policy.unplanned_property decides "
                "for every event; dropped",
            )
    if rule.get("variants"):
        report.note(f"{path}.variants", "variants (discriminator cases) are not planned; dropped")
    if entry.get("category"):
        report.note(f"{event_path}.category", "event categories have no equivalent; dropped")
    props = _rule_properties(rule.get("properties"), f"{path}.properties", catalog)
    event = EventSpec(
        name=str(name or kind), stage=None, description=str(entry.get("description") or "")
    )
    return kind, event, props


def _rule_flags(rule: dict[str, Any]) -> list[tuple[str, Any]]:
    """The rule-level switches that let unplanned properties through (v1 and v0.1 names)."""
    return [(key, rule.get(key)) for key in ("additional_properties", "allow_unplanned")]


def _rule_properties(entries: Any, path: str, catalog: _Catalog) -> tuple[PropertySpec, ...]:
    """The properties a rule lists: uses of shared properties, or objects with nested ones."""
    specs: list[PropertySpec] = []
    for n, item in enumerate(entries or []):
        where = f"{path}[{n}]"
        if not isinstance(item, dict):
            catalog.report.note(where, "not a mapping; skipped")
            continue
        ref = item.get("$ref", item.get("property"))
        prop_id = _ref_id(ref, ("properties", "property"))
        if prop_id is None or prop_id not in catalog.properties:
            catalog.report.note(where, f"refers to no catalog property ({ref!r}); skipped")
            continue
        definition = _definition(prop_id, catalog)
        if definition is None:
            continue
        required = item.get("required") is True
        nested = item.get("properties")
        if nested and definition.type == "object":
            # The rule plans this object's fields itself: written out, not a shared use.
            children = _rule_properties(nested, f"{where}.properties", catalog)
            specs.append(replace(definition, required=required, properties=children))
            continue
        if nested:
            catalog.report.note(f"{where}.properties", "nested properties under a non-object")
        specs.append(replace(_share(prop_id, definition, catalog), required=required))
    return tuple(specs)


def _definition(prop_id: str, catalog: _Catalog) -> PropertySpec | None:
    """A catalog property as a plan property (built once per id)."""
    if prop_id not in catalog.built:
        path, entry = catalog.properties[prop_id]
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            catalog.report.note(path, "property without a 'name'; skipped")
            catalog.built[prop_id] = None
        else:
            catalog.built[prop_id] = _property(name, entry, path, catalog)
    return catalog.built[prop_id]


def _share(prop_id: str, definition: PropertySpec, catalog: _Catalog) -> PropertySpec:
    """A use of the catalog property: its definition enters the shared library, under its
    name (a second catalog id with the same name and another spec is written out instead)."""
    name = definition.name
    owner = catalog.library_ids.setdefault(name, prop_id)
    if owner != prop_id and catalog.library[name] != definition:
        path, _ = catalog.properties[prop_id]
        catalog.report.note(path, f"a second catalog property named {name!r}; written out")
        return definition
    catalog.library.setdefault(name, definition)
    return replace(definition, shared=name)


def _property(
    name: str, entry: dict[str, Any], path: str, catalog: _Catalog
) -> PropertySpec | None:
    """A catalog property (or custom type) as a plan property; config it cannot keep is reported."""
    report = catalog.report
    raw = entry.get("types", entry.get("type"))
    types = (
        [str(t) for t in raw]
        if isinstance(raw, list)
        else [t.strip() for t in raw.split(",")]
        if isinstance(raw, str)
        else []
    )
    config = entry.get("config", entry.get("propConfig")) or {}
    config = config if isinstance(config, dict) else {}
    custom = _ref_id(types[0], ("custom-types", "custom-type")) if len(types) == 1 else None
    if custom is not None:
        return _custom(name, custom, entry, path, catalog)
    nullable = "null" in types
    types = [t for t in types if t != "null"]
    type_: str | None = None
    if len(types) == 1 and types[0] in _PLAIN_TYPES:
        type_ = types[0]
    elif set(types) == {"integer", "number"}:
        type_ = "number"
    if type_ is None:
        shown = ", ".join(repr(t) for t in types) or "no type"
        report.note(path, f"{shown} cannot be expressed as one plan type; property skipped")
        return None
    for key in config:
        if key not in _CONFIG_READ:
            report.note(f"{path}.config.{key}", "has no equivalent in a trackwell plan; dropped")
    fmt = config.get("format")
    if type_ == "string" and fmt == "date-time":
        type_, fmt = "timestamp", None
    elif fmt is not None and (type_ != "string" or fmt not in STRING_FORMATS):
        report.note(f"{path}.config.format", f"format {fmt!r} is not supported; dropped")
        fmt = None
    items = None
    if type_ == "array":
        items = _items(config, path, report)
    enum = config.get("enum")
    max_length = config.get("maxLength", config.get("max_length"))
    return PropertySpec(
        name=name,
        type=cast(Any, type_),
        description=str(entry.get("description") or ""),
        nullable=nullable,
        enum=tuple(cast(list[Scalar], enum)) if isinstance(enum, list) and enum else None,
        minimum=_number(config.get("minimum")),
        maximum=_number(config.get("maximum")),
        pattern=config.get("pattern") if isinstance(config.get("pattern"), str) else None,
        format=cast(Any, fmt),
        max_length=max_length if isinstance(max_length, int) else None,
        items=items,
    )


def _items(config: dict[str, Any], path: str, report: ImportReport) -> PropertySpec:
    """An array's element type from `itemTypes` (one plain type), else string, reported."""
    raw = next(
        (config[k] for k in ("itemTypes", "item_types", "itemType", "item_type") if k in config),
        None,
    )
    kinds = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    if len(kinds) == 1 and kinds[0] in _PLAIN_TYPES:
        return PropertySpec(name="items", type=cast(Any, kinds[0]))
    what = f"item types {kinds!r}" if kinds else "no item types"
    report.note(path, f"array with {what}; elements typed as string")
    return PropertySpec(name="items", type="string")


def _custom(
    name: str, type_id: str, entry: dict[str, Any], path: str, catalog: _Catalog
) -> PropertySpec | None:
    """A property typed by a custom type: the custom type's own type and config, inlined."""
    if type_id not in catalog.types:
        catalog.report.note(path, f"custom type {type_id!r} is not in the project; skipped")
        return None
    type_path, definition = catalog.types[type_id]
    if definition.get("properties"):
        catalog.report.note(type_path, "an object custom type's own properties are not read")
    spec = _property(name, definition, type_path, catalog)
    if spec is not None and entry.get("description"):
        spec = replace(spec, description=str(entry["description"]))
    return spec


def _ref_id(ref: Any, kinds: tuple[str, str]) -> str | None:
    """The id a `#/<kind>/<group>/<id>` or `#<kind>:<id>` reference names, if of `kinds`."""
    match = _REF.match(ref) if isinstance(ref, str) else None
    if match is None or (match["kind"] or match["urn"]) not in kinds:
        return None
    return match["id"]


def _number(value: Any) -> float | None:
    """A numeric bound, if it is one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
