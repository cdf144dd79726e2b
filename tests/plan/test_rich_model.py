"""The richer plan model: shared properties, property aliases, page/screen/group schemas and
event versions, as loaded (with located errors) and written back."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwell.plan import Plan, PlanLoadError, parse_plan
from trackwell.plan.dump import dump_plan

from .helpers import dedent
from .rich import RICH_PLAN, rich_plan

HEAD = "trackwell: 1\nname: T\nversion: 1\n"


def load_error(text: str) -> str:
    with pytest.raises(PlanLoadError) as info:
        parse_plan(HEAD + dedent(text), "tracking-plan.yaml")
    return str(info.value)


def test_a_use_of_a_shared_property_is_resolved_and_names_its_definition() -> None:
    plan = rich_plan()
    library = plan.properties["plan_name"]
    assert library.shared is None and library.aliases == ("plan",)
    started = plan.events["Subscription Started"].property("plan_name")
    assert started is not None
    assert started.shared == "plan_name"
    assert started.required  # the per-use override
    assert not library.required
    assert started.enum == ("starter", "pro", "team") and started.aliases == ("plan",)
    assert started.description == "The plan the workspace is on."
    pricing = plan.page_specs["Pricing"].property("plan_name")
    assert pricing is not None and pricing.description == "The plan whose column was open."
    workspace = plan.events["Subscription Started"].property("workspace_id")
    assert workspace is not None and workspace.required  # the definition's own flag
    assert plan.shared_uses("plan_name") == (
        "traits",
        "group traits",
        "event 'Subscription Started'",
        "page 'Pricing'",
    )
    assert plan.shared_uses("workspace_id") == (
        "event 'Subscription Started'",
        "screen 'Dashboard'",
    )


def test_pages_screens_group_and_versions_load_into_the_model() -> None:
    plan = rich_plan()
    assert plan.pages == ("Home", "Pricing")
    assert set(plan.page_specs) == {"Pricing"}  # `Home:` alone plans no properties
    assert plan.screens == ("Dashboard", "Settings")
    assert set(plan.screen_specs) == {"Dashboard"}
    assert plan.group_traits is not None
    assert [t.name for t in plan.group_traits] == ["workspace_name", "seats", "plan_name"]
    seats = plan.group_traits[1]
    assert seats.aliases == ("seat_count",)
    checkout = plan.events["Checkout Completed"]
    assert [v.label for v in checkout.versions] == ["v1", "v2"]
    v1, v2 = checkout.versions
    assert v1.deprecated and not v2.deprecated
    assert checkout.current_version() == v2
    assert [p.name for p in checkout.version_properties(v2)] == [
        "order_id",
        "total_cents",
        "currency",
    ]


def test_the_short_page_list_stays_valid_and_plans_no_schema() -> None:
    plan = parse_plan(HEAD + "events: {}\npages: [Home, Pricing]\n")
    assert plan.pages == ("Home", "Pricing") and not plan.page_specs
    assert plan.group_traits is None and not plan.properties


def test_rich_plan_round_trips_through_dump() -> None:
    plan = rich_plan()
    text = dump_plan(plan)
    assert parse_plan(text) == plan
    # Uses are written back as references, not copies of the definition.
    assert "use: plan_name" in text
    assert text.count("enum: [starter, pro, team]") == 1


def test_dump_writes_only_what_a_use_overrides() -> None:
    text = dump_plan(rich_plan())
    traits = text.split("traits:\n", 1)[1].split("group:", 1)[0]
    assert "plan_name:\n    use: plan_name\n" in traits
    assert "required" not in traits.split("plan_name:", 1)[1]


def test_use_of_an_undefined_shared_property_names_it_with_a_location() -> None:
    message = load_error(
        """
        properties:
          plan_name: string
        events:
          Subscription Started:
            properties:
              plan: {use: plan_nam}
        """
    )
    assert message.startswith("tracking-plan.yaml:9:")
    assert "uses undefined shared property 'plan_nam'" in message
    assert "did you mean 'plan_name'?" in message


def test_a_use_accepts_only_its_overrides() -> None:
    message = load_error(
        """
        properties:
          plan_name: string
        traits:
          plan_name: {use: plan_name, type: integer}
        events: {}
        """
    )
    assert "tracking-plan.yaml:7:" in message
    assert "unknown key 'type' (expected one of use, required, description)" in message


def test_a_shared_property_cannot_use_another() -> None:
    message = load_error(
        """
        properties:
          plan_name: string
          plan_copy: {use: plan_name}
        events: {}
        """
    )
    assert "tracking-plan.yaml:6:" in message and "cannot use another" in message


def test_aliases_only_on_top_level_properties() -> None:
    message = load_error(
        """
        events:
          Subscription Started:
            properties:
              address:
                type: object
                properties:
                  city: {type: string, aliases: [town]}
        """
    )
    assert "tracking-plan.yaml:10:" in message and "aliases apply to top-level" in message


def test_a_version_cannot_repeat_a_common_property() -> None:
    message = load_error(
        """
        events:
          Checkout Completed:
            properties:
              order_id: string
            versions:
              v1:
                properties:
                  order_id: integer
        """
    )
    assert message.startswith("tracking-plan.yaml:11:")
    assert "'order_id' is already in the event's properties" in message


def test_unknown_keys_in_new_sections_suggest_the_right_one() -> None:
    message = load_error(
        """
        group:
          trait: {seats: integer}
        events:
          Checkout Completed:
            versions:
              v1:
                deprecate: true
        pages:
          Pricing:
            propertes: {plan_name: string}
        """
    )
    lines = sorted(message.splitlines(), key=lambda line: int(line.split(":")[1]))
    assert len(lines) == 3
    assert lines[0].startswith("tracking-plan.yaml:5:3: group: unknown key 'trait'")
    assert "did you mean 'traits'?" in lines[0]
    assert lines[1].startswith("tracking-plan.yaml:10:9: event 'Checkout Completed': versions 'v1'")
    assert "did you mean 'deprecated'?" in lines[1]
    assert lines[2].startswith("tracking-plan.yaml:13:5: page 'Pricing': unknown key 'propertes'")
    assert "did you mean 'properties'?" in lines[2]


def test_empty_versions_is_an_error() -> None:
    message = load_error(
        """
        events:
          Checkout Completed:
            versions: {}
        """
    )
    assert "tracking-plan.yaml:6:" in message and "list at least one version" in message


def test_plan_maps_are_read_only() -> None:
    plan = rich_plan()
    with pytest.raises(TypeError):
        plan.properties["x"] = plan.properties["plan_name"]  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.page_specs["x"] = plan.page_specs["Pricing"]  # type: ignore[index]


def test_rich_plan_text_is_stable() -> None:
    # The fixture other tests rely on keeps loading as written.
    assert isinstance(parse_plan(RICH_PLAN), Plan)


def test_the_readme_example_of_the_richer_model_loads() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Shared properties, renames, pages, groups and versions", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    plan = parse_plan(HEAD + example, "README.md")
    assert plan.properties["plan_name"].aliases == ("plan",)
    assert plan.group_traits is not None and plan.page_specs["Pricing"].properties
    assert [v.label for v in plan.events["Checkout Completed"].versions] == ["v1", "v2"]
    assert parse_plan(dump_plan(plan)) == plan
