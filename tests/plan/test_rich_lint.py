"""Lint findings only the richer model can have, each with a near miss that must not fire."""

from __future__ import annotations

from trackwell.plan import parse_plan
from trackwell.plan.lint import lint_plan

from .rich import RICH_PLAN

HEAD = "trackwell: 1\nname: T\nversion: 1\n"


def codes(text: str) -> list[str]:
    return [f.code for f in lint_plan(parse_plan(text, "p.yaml"))]


def test_the_rich_plan_has_no_richer_model_findings() -> None:
    new = {"unused_shared_property", "property_alias_conflict", "duplicate_version"}
    assert not new & set(codes(RICH_PLAN))


def test_unused_shared_property() -> None:
    text = HEAD + "properties:\n  plan_name: string\n  seats: integer\ntraits:\n"
    text += "  plan_name: {use: plan_name}\nevents: {}\n"
    findings = [f for f in lint_plan(parse_plan(text, "p.yaml")) if f.code.startswith("unused")]
    assert [(f.path, f.location and f.location.line) for f in findings] == [("properties.seats", 6)]


def test_property_alias_conflicts() -> None:
    text = HEAD + "events:\n  A:\n    properties:\n"
    text += "      plan_name: {type: string, aliases: [plan]}\n      plan: string\n"
    assert "property_alias_conflict" in codes(text)
    twice = HEAD + "events:\n  A:\n    properties:\n"
    twice += "      plan_name: {type: string, aliases: [plan]}\n"
    twice += "      plan_id: {type: string, aliases: [plan]}\n"
    assert "property_alias_conflict" in codes(twice)
    apart = HEAD + "events:\n  A:\n    properties:\n"
    apart += "      plan_name: {type: string, aliases: [plan]}\n      plan_id: string\n"
    assert "property_alias_conflict" not in codes(apart)
    # A version's alias may not be a property every version has.
    versioned = HEAD + "events:\n  A:\n    properties:\n      plan: string\n    versions:\n"
    versioned += "      v1: {properties: {plan_name: {type: string, aliases: [plan]}}}\n"
    found = [f for f in lint_plan(parse_plan(versioned)) if f.code == "property_alias_conflict"]
    assert [f.path for f in found] == ["events.A.versions.v1.properties.plan_name"]
    assert found[0].message == "alias 'plan' of 'plan_name' is itself a property of 'A' v1"


def test_duplicate_and_retired_versions() -> None:
    text = HEAD + "events:\n  A:\n    versions:\n"
    text += "      v1: {properties: {total: string}}\n"
    text += "      v2: {properties: {total: string}}\n"
    assert "duplicate_version" in codes(text)
    differ = text.replace("v2: {properties: {total: string}}", "v2: {properties: {total: number}}")
    assert "duplicate_version" not in codes(differ)
    assert "all_versions_retired" not in codes(differ)
    retired = differ.replace("v1: {", "v1: {deprecated: true, ").replace(
        "v2: {", "v2: {deprecated: true, "
    )
    assert "all_versions_retired" in codes(retired)


def test_naming_rules_reach_pages_group_versions_and_the_library() -> None:
    text = HEAD + "properties:\n  planName: string\ngroup:\n  traits:\n    seatCount: integer\n"
    text += "events:\n  A:\n    versions:\n      v1: {properties: {totalCents: integer}}\n"
    text += "pages:\n  Pricing:\n    properties:\n      billingPeriod: string\n"
    paths = {f.path for f in lint_plan(parse_plan(text)) if f.code == "property_case"}
    assert paths == {
        "properties.planName",
        "group.traits.seatCount",
        "events.A.versions.v1.properties.totalCents",
        "pages.Pricing.properties.billingPeriod",
    }
