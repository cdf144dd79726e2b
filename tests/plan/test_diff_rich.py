"""Plan diff on the richer model: shared definitions reported once, group traits, page and
screen properties, event versions, and the stage."""

from __future__ import annotations

from trackwell.plan import parse_plan
from trackwell.plan.diff import Change, PlanDiff, diff_plans

from .rich import RICH_PLAN, rich_plan


def diff_to(*edits: tuple[str, str]) -> PlanDiff:
    text = RICH_PLAN
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return diff_plans(rich_plan(), parse_plan(text, "rich-plan.yaml"))


def by_code(diff: PlanDiff) -> dict[str, list[Change]]:
    found: dict[str, list[Change]] = {}
    for change in diff.changes:
        found.setdefault(change.code, []).append(change)
    return found


def test_shared_definition_change_is_reported_once_with_everything_it_touches() -> None:
    rich = RICH_PLAN.replace(
        "  Subscription Started:\n", "  Subscription Started:\n    used_by: [Paid welcome]\n"
    )
    old = parse_plan(rich, "rich-plan.yaml")
    new = parse_plan(rich.replace("enum: [starter, pro, team]", "enum: [starter, pro]"), "x.yaml")
    (change,) = diff_plans(old, new).changes
    assert (change.code, change.kind, change.scope) == ("enum_narrowed", "breaking", "shared")
    assert change.path == "properties.plan_name"
    assert change.impact == ("Paid welcome",)
    for use in ("traits", "group traits", "event 'Subscription Started'", "page 'Pricing'"):
        assert use in change.message
    assert change.location is not None and change.location.line == 5


def test_a_use_override_is_still_reported_at_the_use() -> None:
    diff = diff_to(("plan_name: {use: plan_name, required: true}", "plan_name: {use: plan_name}"))
    (change,) = diff.changes
    assert (change.code, change.path) == (
        "became_optional",
        "events.Subscription Started.properties.plan_name",
    )


def test_unused_shared_definition_changes_are_compatible() -> None:
    def with_unused(spec: str) -> str:
        return RICH_PLAN.replace("properties:\n", f"properties:\n  legacy_code: {spec}\n", 1)

    old = parse_plan(with_unused("{type: string}"), "a.yaml")
    new = parse_plan(with_unused("{type: integer}"), "b.yaml")
    (change,) = diff_plans(old, new).changes
    assert (change.code, change.kind, change.path) == (
        "type_changed",
        "compatible",
        "properties.legacy_code",
    )
    assert "used nowhere" in change.message


def test_group_traits_are_compared_like_traits() -> None:
    diff = diff_to(
        (
            "seats: {type: integer, minimum: 1, aliases: [seat_count]}",
            "seat_total: {type: integer, minimum: 5, aliases: [seats, seat_count]}",
        ),
    )
    found = {c.code: (c.kind, c.scope, c.path) for c in diff.changes}
    assert found == {
        "property_renamed": ("compatible", "group", "group.traits.seat_total"),
        "constraint_tightened": ("breaking", "group", "group.traits.seat_total"),
    }


def test_group_section_added_and_removed() -> None:
    no_group = RICH_PLAN.replace(
        "group:\n  traits:\n    workspace_name: {type: string, required: true}\n"
        "    seats: {type: integer, minimum: 1, aliases: [seat_count]}\n"
        "    plan_name: {use: plan_name}\n",
        "",
    )
    without = parse_plan(no_group, "a.yaml")
    added = {c.code: c.kind for c in diff_plans(without, rich_plan()).changes}
    assert added == {
        "group_traits_added": "compatible",
        "required_property_added": "breaking",
        "property_added": "compatible",
    }
    removed = [(c.code, c.kind) for c in diff_plans(rich_plan(), without).changes]
    assert removed == [("group_traits_removed", "compatible")]


def test_page_and_screen_property_changes() -> None:
    diff = diff_to(
        (
            "billing_period: {type: string, enum: [monthly, annual]}\nscreens",
            "billing_period: {type: string, enum: [monthly, annual], required: true}\nscreens",
        ),
        ("  Home:\n", "  Home:\n    properties:\n      section: string\n"),
        (
            "  Dashboard:\n    properties:\n      workspace_id: {use: workspace_id}\n",
            "  Dashboard:\n",
        ),
    )
    found = {(c.code, c.path): (c.kind, c.scope) for c in diff.changes}
    assert found == {
        ("became_required", "pages.Pricing.properties.billing_period"): ("breaking", "page"),
        ("page_properties_planned", "pages.Home.properties"): ("compatible", "page"),
        ("property_added", "pages.Home.properties.section"): ("compatible", "page"),
        ("screen_properties_unplanned", "screens.Dashboard.properties"): ("compatible", "screen"),
    }


def test_page_removed_is_breaking_and_stage_removed_is_not() -> None:
    diff = diff_to(
        ("  Home:\n", ""),
        (
            "stage: Expansion\n    description: An order",
            "stage: Retention\n    description: An order",
        ),
    )
    found = {c.code: c.kind for c in diff.changes}
    assert found == {"page_removed": "breaking", "stage_changed": "compatible"}
    old, new = rich_plan(), parse_plan(RICH_PLAN + "stages: [Expansion, Retention]\n", "a.yaml")
    stages = {c.code: c.kind for c in diff_plans(old, new).changes}
    assert stages and set(stages) == {"stage_removed"} and set(stages.values()) == {"compatible"}


def test_event_versions_added_retired_removed_and_changed() -> None:
    diff = diff_to(
        (
            "      v1:\n        description: Totals as text, before the currency migration.\n"
            "        deprecated: true\n        properties:\n          total: {type: string, required: true}\n",
            "",
        ),
        (
            "          currency: {type: string, enum: [EUR, USD], required: true}\n",
            "          currency: {type: string, enum: [EUR], required: true}\n"
            "      v3:\n        properties:\n          total_minor: {type: integer}\n",
        ),
    )
    found = {(c.code, c.path): c.kind for c in diff.changes}
    assert found == {
        ("version_removed", "events.Checkout Completed.versions.v1"): "breaking",
        ("enum_narrowed", "events.Checkout Completed.versions.v2.properties.currency"): "breaking",
        ("version_added", "events.Checkout Completed.versions.v3"): "compatible",
    }
    retired = diff_to(("      v2:\n", "      v2:\n        deprecated: true\n"))
    assert [(c.code, c.kind) for c in retired.changes] == [("version_retired", "compatible")]


def test_versions_introduced_compare_the_old_shape_with_the_oldest_version() -> None:
    old = parse_plan(
        RICH_PLAN.split("    versions:")[0]
        + "      total: {type: string, required: true}\npages: [Home]\n",
        "a.yaml",
    )
    new = parse_plan(RICH_PLAN.split("pages:")[0] + "pages: [Home]\n", "b.yaml")
    found = {(c.code, c.path.split("Completed.")[1]): c.kind for c in diff_plans(old, new).changes}
    assert found == {
        ("version_added", "versions.v1"): "compatible",
        ("version_added", "versions.v2"): "compatible",
    }


def test_a_removed_page_with_properties_is_one_change() -> None:
    diff = diff_to(
        (
            "  Pricing:\n    description: The pricing table.\n    properties:\n"
            "      plan_name: {use: plan_name, description: The plan whose column was open.}\n"
            "      billing_period: {type: string, enum: [monthly, annual]}\n",
            "",
        )
    )
    assert [(c.code, c.kind, c.path) for c in diff.changes] == [
        ("page_removed", "breaking", "pages")
    ]
