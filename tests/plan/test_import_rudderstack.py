"""RudderStack rudder-cli projects import: catalog properties as shared properties, rules as
events, traits and group traits, in both spec versions' reference styles."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from trackwell.plan.jsonschema import SchemaImportError
from trackwell.plan.rudderstack import import_rudderstack

from .imports import IMPORTS, expected_plan, reloaded


def project(version: str) -> list[tuple[str, Any]]:
    """The fixture project's documents, labelled by file (and `#n` in multi-document files)."""
    documents: list[tuple[str, Any]] = []
    for file in sorted((IMPORTS / "rudderstack" / version).glob("*.yaml")):
        found = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
        for n, doc in enumerate(found, start=1):
            documents.append((f"{file.name}#{n}" if len(found) > 1 else file.name, doc))
    return documents


def test_project_imports_to_the_expected_plan() -> None:
    plan, _ = import_rudderstack(project("v0.1"))
    assert plan == expected_plan("rudderstack")
    order = plan.events["Order Completed"]
    price = order.property("price")
    assert price is not None and price.shared == "price" and price.required
    currency = order.property("currency")
    assert currency is not None and currency.enum == ("EUR", "USD")  # from the custom type
    shipping = order.property("shipping")
    assert shipping is not None and shipping.shared is None
    assert [p.name for p in shipping.properties] == ["city"]
    assert [t.name for t in plan.traits] == ["email"]
    assert plan.group_traits is not None and plan.group_traits[0].name == "seats"


def test_project_report_is_exact() -> None:
    _, report = import_rudderstack(project("v0.1"))
    assert report.notes == [
        "categories.yaml: event categories have no equivalent; dropped",
        "events.yaml:spec.events[0].category: event categories have no equivalent; dropped",
        "properties.yaml:spec.properties[0].config.minLength: has no equivalent in a trackwell"
        " plan; dropped",
        "properties.yaml:spec.properties[1].config.multipleOf: has no equivalent in a trackwell"
        " plan; dropped",
        "tracking-plan.yaml:spec.rules[1].event.allow_unplanned: per-event unplanned properties:"
        " the plan's policy.unplanned_property decides for every event; dropped",
        "tracking-plan.yaml:spec.rules[1].variants: variants (discriminator cases) are not"
        " planned; dropped",
        "properties.yaml:spec.properties[10]: 'string', 'boolean' cannot be expressed as one plan"
        " type; property skipped",
        "tracking-plan.yaml:spec.rules[4]: a page rule applies to every page; a plan plans page"
        " properties per name, so it is dropped",
        "events.yaml:spec.events[5]: catalog event in no rule of the tracking plan; not planned",
        "events.Product Viewed: RudderStack has no lifecycle stage; set 'stage'",
        "events.Order Completed: RudderStack has no lifecycle stage; set 'stage'",
        "tracking-plan.yaml:spec.description: a plan has no description; dropped",
    ]


@pytest.mark.parametrize("version", ["v0.1", "v1"])
def test_project_round_trips_through_yaml(version: str) -> None:
    plan, _ = import_rudderstack(project(version))
    assert reloaded(plan) == plan


def test_v1_references_and_types_list() -> None:
    plan, report = import_rudderstack(project("v1"))
    event = plan.events["Product Viewed"]
    viewed_at = event.property("viewed_at")
    assert viewed_at is not None and viewed_at.type == "timestamp" and viewed_at.nullable
    sku = event.property("sku")
    assert sku is not None and sku.required and sku.shared == "sku"
    assert report.notes == [
        "events.Product Viewed: RudderStack has no lifecycle stage; set 'stage'"
    ]


def test_a_project_without_a_tracking_plan() -> None:
    with pytest.raises(SchemaImportError, match="no tracking plan"):
        import_rudderstack(project("v0.1")[:2])
