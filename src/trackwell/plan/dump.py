"""Write a Plan back out as tracking-plan YAML that the loader reads to the same Plan."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import yaml

from trackwell.core.consent import ConsentPolicy
from trackwell.plan.model import (
    DEFAULT_STAGES,
    Conventions,
    EventSpec,
    EventVersion,
    LintAllow,
    PageSpec,
    Plan,
    Policy,
    PropertySpec,
)


class _PlanDumper(yaml.SafeDumper):
    """Block style for maps, flow style for short lists of names."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(v, str | int | float | bool) for v in data) and len(str(data)) < 80
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_PlanDumper.add_representer(list, _represent_list)

# The shared property library the uses in a document refer to.
Library = Mapping[str, PropertySpec]
_NO_LIBRARY: Library = MappingProxyType({})


def property_document(prop: PropertySpec, library: Library = _NO_LIBRARY) -> Any:
    """A property as YAML data: the `name: string` shorthand when only the type is set, and a
    `{use: name}` reference for a use of a shared property."""
    if prop.shared is not None:
        return _use_document(prop, library.get(prop.shared))
    doc: dict[str, Any] = {"type": prop.type}
    for key in ("description", "required", "nullable"):
        value = getattr(prop, key)
        if value:
            doc[key] = value
    if prop.enum is not None:
        doc["enum"] = list(prop.enum)
    for key in ("minimum", "maximum", "pattern", "format", "max_length"):
        value = getattr(prop, key)
        if value is not None:
            doc[key] = value
    if prop.items is not None:
        doc["items"] = property_document(prop.items, library)
    if prop.properties:
        doc["properties"] = properties_document(prop.properties, library)
    if prop.aliases:
        doc["aliases"] = list(prop.aliases)
    return prop.type if len(doc) == 1 else doc


def _use_document(prop: PropertySpec, definition: PropertySpec | None) -> dict[str, Any]:
    """A use of a shared property, with what this use says differently from its definition
    (`required`, `description`); both are written when the definition is not at hand."""
    doc: dict[str, Any] = {"use": prop.shared}
    if definition is None or prop.required != definition.required:
        doc["required"] = prop.required
    if definition is None or prop.description != definition.description:
        doc["description"] = prop.description
    return doc


def properties_document(
    props: tuple[PropertySpec, ...], library: Library = _NO_LIBRARY
) -> dict[str, Any]:
    """A set of properties as a YAML map, name -> spec."""
    return {p.name: property_document(p, library) for p in props}


def version_document(
    version: EventVersion, library: Library = _NO_LIBRARY
) -> dict[str, Any] | None:
    """One version of an event: description, retirement, the properties it adds."""
    doc: dict[str, Any] = {}
    if version.description:
        doc["description"] = version.description
    if version.deprecated:
        doc["deprecated"] = True
    if version.properties:
        doc["properties"] = properties_document(version.properties, library)
    return doc or None


def pages_document(
    names: tuple[str, ...], specs: Mapping[str, PageSpec], library: Library = _NO_LIBRARY
) -> Any:
    """Pages (or screens): the short list of names unless one plans its own properties."""
    if not specs:
        return list(names)
    doc: dict[str, Any] = {}
    for name in names:
        spec = specs.get(name)
        if spec is None:
            doc[name] = None
            continue
        page: dict[str, Any] = {}
        if spec.description:
            page["description"] = spec.description
        page["properties"] = properties_document(spec.properties, library)
        doc[name] = page
    return doc


def event_document(event: EventSpec, library: Library = _NO_LIBRARY) -> dict[str, Any]:
    """An event as YAML data, keys in the order people read them."""
    doc: dict[str, Any] = {}
    for key in ("stage", "description", "owner", "since", "backfill"):
        value = getattr(event, key)
        if value:
            doc[key] = value
    for key in ("used_by", "aliases"):
        value = getattr(event, key)
        if value:
            doc[key] = list(value)
    if event.deprecated:
        doc["deprecated"] = True
    if event.replaced_by:
        doc["replaced_by"] = event.replaced_by
    if event.browser:
        doc["browser"] = True
    if event.properties:
        doc["properties"] = properties_document(event.properties, library)
    if event.versions:
        doc["versions"] = {v.label: version_document(v, library) for v in event.versions}
    return doc


def consent_document(consent: ConsentPolicy) -> dict[str, Any]:
    """`policy.consent` as data: the trait only when one is named."""
    doc: dict[str, Any] = {}
    if consent.trait is not None:
        doc["trait"] = consent.trait
    doc["missing_consent"] = consent.missing_consent
    return doc


def lint_document(allow: tuple[LintAllow, ...]) -> dict[str, Any]:
    """`lint.allow` as data: each entry's code, its names or path, and its reason."""
    entries = []
    for entry in allow:
        item: dict[str, Any] = {"code": entry.code}
        if entry.names:
            item["names"] = list(entry.names)
        if entry.path is not None:
            item["path"] = entry.path
        if entry.reason:
            item["reason"] = entry.reason
        entries.append(item)
    return {"allow": entries}


def plan_document(plan: Plan) -> dict[str, Any]:
    """The whole plan as YAML data; defaults are left out to keep the file short."""
    doc: dict[str, Any] = {
        "trackwell": plan.format_version,
        "name": plan.name,
        "version": plan.version,
    }
    if plan.conventions != Conventions():
        doc["conventions"] = {
            "event_case": plan.conventions.event_case,
            "property_case": plan.conventions.property_case,
        }
    if plan.stages != DEFAULT_STAGES:
        doc["stages"] = list(plan.stages)
    if plan.policy != Policy():
        doc["policy"] = {
            "unplanned_event": plan.policy.unplanned_event,
            "unplanned_property": plan.policy.unplanned_property,
            "invalid_property": plan.policy.invalid_property,
            "sensitive_data": plan.policy.sensitive_data,
        }
        if plan.policy.consent is not None:
            doc["policy"]["consent"] = consent_document(plan.policy.consent)
    if plan.lint_allow:
        doc["lint"] = lint_document(plan.lint_allow)
    if plan.properties:
        doc["properties"] = properties_document(tuple(plan.properties.values()))
    library = plan.properties
    if plan.traits:
        doc["traits"] = properties_document(plan.traits, library)
    if plan.group_traits is not None:
        doc["group"] = {"traits": properties_document(plan.group_traits, library)}
    doc["events"] = {e.name: event_document(e, library) or None for e in plan.events.values()}
    if plan.pages:
        doc["pages"] = pages_document(plan.pages, plan.page_specs, library)
    if plan.screens:
        doc["screens"] = pages_document(plan.screens, plan.screen_specs, library)
    return doc


def dump_plan(plan: Plan) -> str:
    """The plan as YAML text."""
    text = yaml.dump(
        plan_document(plan),
        Dumper=_PlanDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return f"# Tracking plan '{plan.name}', written by trackwell.\n{text}"
