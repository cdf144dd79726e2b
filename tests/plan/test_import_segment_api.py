"""Segment Public API responses (Get Tracking Plan, List Rules) import with nothing lost
silently: descriptions, identify/group/page rules, event versions, and a report of the rest."""

from __future__ import annotations

import json

import pytest

from trackwell.plan.jsonschema import SchemaImportError
from trackwell.plan.segment import import_segment, import_segment_documents

from .imports import expected_plan, fixture_text, reloaded

FILES = ("get-tracking-plan.json", "list-rules.json")


def documents() -> list[tuple[str, object]]:
    return [(name, json.loads(fixture_text("segment", name))) for name in FILES]


def test_public_api_responses_import_to_the_expected_plan() -> None:
    plan, _ = import_segment_documents(documents())
    assert plan == expected_plan("segment")
    order = plan.events["Order Completed"]
    assert order.description == "An order was paid."
    assert [v.label for v in order.versions] == ["v1", "v2"]
    assert order.versions[0].deprecated and not order.versions[1].deprecated
    assert plan.events["Product Viewed"].property("price") is not None
    assert plan.traits[0].description == "Contact address."
    assert plan.group_traits is not None and plan.group_traits[0].name == "company_name"
    assert plan.page_specs["Pricing"].description == "The pricing table."


def test_public_api_report_lists_everything_not_mapped_with_its_json_path() -> None:
    _, report = import_segment_documents(documents())
    assert report.notes == [
        "list-rules.json:data.rules[1].jsonSchema.labels: has no equivalent in a trackwell plan;"
        " dropped",
        "list-rules.json:data.rules[1].jsonSchema.properties.properties.properties.placed_at:"
        " number-or-string read as timestamp: it is described as a time",
        "list-rules.json:data.rules[2].jsonSchema.properties.context: context rules are not"
        " planned per event; dropped",
        "list-rules.json:data.rules[6]: SCREEN rule without a key applies to every screen; a plan"
        " plans screen properties per name, so it is dropped",
        "list-rules.json:data.rules[7]: COMMON rules (checks on every call) are not planned;"
        " dropped",
        "events.Order Completed: Segment has no lifecycle stage; set 'stage' by hand",
        "events.Product Viewed: Segment has no lifecycle stage; set 'stage' by hand",
        "get-tracking-plan.json:data.trackingPlan.description: a plan has no equivalent field;"
        " dropped",
        "get-tracking-plan.json:data.trackingPlan.slug: a plan has no equivalent field; dropped",
        "get-tracking-plan.json:data.trackingPlan.type: a plan has no equivalent field; dropped",
    ]


def test_public_api_import_round_trips_through_yaml() -> None:
    plan, _ = import_segment_documents(documents())
    assert reloaded(plan) == plan


def test_tracking_plan_envelope_with_rules_inside() -> None:
    rules = json.loads(fixture_text("segment", "list-rules.json"))["data"]["rules"]
    for key in ("tracking_plan", "trackingPlan"):
        plan, _ = import_segment({"data": {key: {"name": "Inline", "rules": rules}}})
        assert plan.name == "Inline"
        assert plan.events["Order Completed"].description == "An order was paid."


def test_a_next_page_of_rules_is_reported() -> None:
    rules = {"data": {"rules": [], "pagination": {"current": "MA==", "next": "MQ=="}}}
    plan, report = import_segment_documents([("page-1.json", rules)])
    assert plan.events == {}
    assert report.notes == [
        "page-1.json:data.pagination: more rules on a next page; fetch every page and pass them all"
    ]


def test_the_plan_alone_is_not_enough() -> None:
    plan_only = json.loads(fixture_text("segment", "get-tracking-plan.json"))
    with pytest.raises(SchemaImportError, match="List Rules"):
        import_segment(plan_only)
