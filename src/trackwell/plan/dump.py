"""Write a Plan back out as tracking-plan YAML that the loader reads to the same Plan."""

from __future__ import annotations

from typing import Any

import yaml

from trackwell.core.consent import ConsentPolicy
from trackwell.plan.model import DEFAULT_STAGES, Conventions, EventSpec, Plan, Policy, PropertySpec


class _PlanDumper(yaml.SafeDumper):
    """Block style for maps, flow style for short lists of names."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(v, str | int | float | bool) for v in data) and len(str(data)) < 80
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_PlanDumper.add_representer(list, _represent_list)


def property_document(prop: PropertySpec) -> Any:
    """A property as YAML data: the `name: string` shorthand when only the type is set."""
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
        doc["items"] = property_document(prop.items)
    if prop.properties:
        doc["properties"] = {p.name: property_document(p) for p in prop.properties}
    return prop.type if len(doc) == 1 else doc


def event_document(event: EventSpec) -> dict[str, Any]:
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
        doc["properties"] = {p.name: property_document(p) for p in event.properties}
    return doc


def consent_document(consent: ConsentPolicy) -> dict[str, Any]:
    """`policy.consent` as data: the trait only when one is named."""
    doc: dict[str, Any] = {}
    if consent.trait is not None:
        doc["trait"] = consent.trait
    doc["missing_consent"] = consent.missing_consent
    return doc


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
    if plan.traits:
        doc["traits"] = {t.name: property_document(t) for t in plan.traits}
    doc["events"] = {e.name: event_document(e) or None for e in plan.events.values()}
    if plan.pages:
        doc["pages"] = list(plan.pages)
    if plan.screens:
        doc["screens"] = list(plan.screens)
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
