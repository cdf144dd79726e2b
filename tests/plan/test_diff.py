"""Plan diff: every change class, its impact, and the version-bump rule."""

from __future__ import annotations

from typing import Any

import pytest

from trackwell.plan.diff import diff_plans

from .helpers import GOOD_PROPERTIES, good_event, make_plan

BASE_PROPS: dict[str, Any] = {
    **GOOD_PROPERTIES,
    "seats": {"type": "integer", "minimum": 1, "maximum": 100},
    "note": {"type": "string", "max_length": 200},
    "coupon": {"type": "string", "nullable": True},
}


def base_events(**prop_overrides: Any) -> dict[str, Any]:
    props = {**BASE_PROPS, **prop_overrides}
    props = {k: v for k, v in props.items() if v is not None}
    return {
        "Subscription Started": good_event(
            properties=props, used_by=["Paid welcome"], aliases=["Sub Started"]
        ),
        "Trial Started": good_event(used_by=["Trial drip"]),
    }


def codes_and_kinds(
    old_events: dict[str, Any], new_events: dict[str, Any], **new_top: Any
) -> dict[str, str]:
    result = diff_plans(make_plan(old_events), make_plan(new_events, **new_top))
    return {c.code: c.kind for c in result.changes}


BREAKING = [
    ("event_removed", {"Subscription Started": base_events()["Subscription Started"]}),
    ("property_removed", base_events(coupon=None)),
    ("type_changed", base_events(seats="number")),
    ("became_required", base_events(note={"type": "string", "max_length": 200, "required": True})),
    ("required_property_added", base_events(region={"type": "string", "required": True})),
    ("enum_narrowed", base_events(billing_period={"type": "string", "enum": ["monthly"]})),
    ("enum_added", base_events(note={"type": "string", "max_length": 200, "enum": ["a"]})),
    ("constraint_tightened", base_events(seats={"type": "integer", "minimum": 2, "maximum": 100})),
    ("constraint_tightened", base_events(note={"type": "string", "max_length": 100})),
    ("pattern_changed", base_events(note={"type": "string", "max_length": 200, "pattern": "^a"})),
    ("nullable_changed", base_events(coupon="string")),
]
COMPATIBLE = [
    ("event_added", {**base_events(), "Invite Sent": good_event()}),
    ("property_added", base_events(region="string")),
    ("became_optional", base_events(plan_name={"type": "string", "enum": ["starter", "pro"]})),
    (
        "enum_widened",
        base_events(billing_period={"type": "string", "enum": ["monthly", "annual", "weekly"]}),
    ),
    ("constraint_loosened", base_events(seats={"type": "integer", "minimum": 0, "maximum": 100})),
    (
        "description_changed",
        base_events(note={"type": "string", "max_length": 200, "description": "x"}),
    ),
]


@pytest.mark.parametrize(("code", "new_events"), BREAKING, ids=[b[0] for b in BREAKING])
def test_breaking_changes(code: str, new_events: dict[str, Any]) -> None:
    assert codes_and_kinds(base_events(), new_events).get(code) == "breaking"


@pytest.mark.parametrize(("code", "new_events"), COMPATIBLE, ids=[c[0] for c in COMPATIBLE])
def test_compatible_changes(code: str, new_events: dict[str, Any]) -> None:
    found = codes_and_kinds(base_events(), new_events)
    assert found.get(code) == "compatible"
    assert "breaking" not in found.values()


def test_alias_removed_is_breaking_and_alias_added_is_not() -> None:
    events = base_events()
    events["Subscription Started"] = {**events["Subscription Started"], "aliases": ["Paid"]}
    found = codes_and_kinds(base_events(), events)
    assert found["alias_removed"] == "breaking"
    assert found["alias_added"] == "compatible"


def test_rename_with_alias_is_compatible_when_no_workflow_uses_the_event() -> None:
    old = base_events()
    old["Trial Started"] = {**old["Trial Started"], "used_by": []}
    events = base_events()
    trial = events.pop("Trial Started")
    events["Trial Began"] = {**trial, "used_by": [], "aliases": ["Trial Started"]}
    found = codes_and_kinds(old, events)
    assert found["event_renamed"] == "compatible"
    assert "event_removed" not in found


def test_rename_of_an_event_a_workflow_triggers_on_is_breaking_until_the_version_goes_up() -> None:
    # The tools receive the new name: "Trial drip", triggered by the old one, stops firing.
    events = base_events()
    trial = events.pop("Trial Started")
    events["Trial Began"] = {**trial, "aliases": ["Trial Started"]}
    result = diff_plans(make_plan(base_events()), make_plan(events))
    (change,) = [c for c in result.changes if c.code == "event_renamed"]
    assert change.kind == "breaking" and change.impact == ("Trial drip",)
    assert "retarget Trial drip" in change.message
    assert not result.ok
    assert diff_plans(make_plan(base_events()), make_plan(events, version=2)).ok


def test_impact_lists_used_by_of_the_touched_event() -> None:
    result = diff_plans(make_plan(base_events()), make_plan(base_events(seats="number")))
    (change,) = [c for c in result.changes if c.code == "type_changed"]
    assert change.path == "events.Subscription Started.properties.seats"
    assert change.impact == ("Paid welcome",)


def test_nested_property_changes_have_paths() -> None:
    old = base_events(address={"type": "object", "properties": {"city": "string"}})
    new = base_events(address={"type": "object", "properties": {"city": "integer"}})
    result = diff_plans(make_plan(old), make_plan(new))
    assert [c.path for c in result.breaking] == [
        "events.Subscription Started.properties.address.properties.city"
    ]


def test_version_rule() -> None:
    old, new = make_plan(base_events()), make_plan(base_events(seats="number"))
    assert not diff_plans(old, new).ok
    bumped = make_plan(base_events(seats="number"), version=2)
    assert diff_plans(old, bumped).ok
    compatible_only = make_plan(base_events(region="string"))
    assert diff_plans(old, compatible_only).ok


def test_traits_pages_and_policy() -> None:
    old = make_plan(pages=["Pricing"], policy={"unplanned_property": "omit"})
    new = make_plan(
        pages=["Help Center"],
        policy={"unplanned_property": "block"},
        traits={"created_at": {"type": "timestamp"}},
    )
    found = {c.code: c.kind for c in diff_plans(old, new).changes}
    assert found["property_removed"] == "breaking"  # the email trait
    assert found["page_removed"] == "breaking"
    assert found["page_added"] == "compatible"
    assert found["policy_tightened"] == "breaking"


def test_identical_plans_have_no_changes() -> None:
    assert diff_plans(make_plan(base_events()), make_plan(base_events())).changes == ()
