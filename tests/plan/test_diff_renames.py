"""Plan diff across renames: an event or a property renamed (old name kept as an alias) is
compared with its renamed self, so what changed under the rename is still classified."""

from __future__ import annotations

from typing import Any

from trackwell.plan.diff import Change, diff_plans

from .helpers import good_event, make_plan

OLD_EVENTS: dict[str, Any] = {
    "Trial Started": good_event(
        used_by=["Trial drip"],
        aliases=["Trial Begun"],
        properties={
            "plan_name": {"type": "string", "enum": ["starter", "pro"], "required": True},
            "seats": {"type": "integer", "minimum": 1},
            "period": {"type": "string", "enum": ["monthly", "annual"]},
        },
    )
}


def renamed(**props: Any) -> dict[str, Any]:
    """`Trial Started` renamed to `Trial Activated`, old names kept as aliases."""
    properties = {**OLD_EVENTS["Trial Started"]["properties"], **props}
    properties = {k: v for k, v in properties.items() if v is not None}
    return {
        "Trial Activated": good_event(
            used_by=["Trial drip"],
            aliases=["Trial Begun", "Trial Started"],
            properties=properties,
        )
    }


def changes(new_events: dict[str, Any], **top: Any) -> list[Change]:
    return list(diff_plans(make_plan(OLD_EVENTS), make_plan(new_events, **top)).changes)


def test_rename_with_type_change_and_required_property_is_breaking() -> None:
    """The issue's case: on main this reported 0 breaking and passed without a bump."""
    new = renamed(seats="string", region={"type": "string", "required": True})
    result = diff_plans(make_plan(OLD_EVENTS), make_plan(new))
    found = {(c.code, c.path): c for c in result.changes}
    assert found["event_renamed", "events.Trial Activated"].kind == "compatible"
    seats = found["type_changed", "events.Trial Activated.properties.seats"]
    region = found["required_property_added", "events.Trial Activated.properties.region"]
    assert seats.kind == region.kind == "breaking"
    assert seats.impact == region.impact == ("Trial drip",)
    assert not result.ok
    assert diff_plans(make_plan(OLD_EVENTS), make_plan(new, version=2)).ok


def test_rename_alone_is_one_compatible_change_and_not_an_added_event() -> None:
    found = changes(renamed())
    assert [(c.code, c.kind) for c in found] == [("event_renamed", "compatible")]
    assert "Trial Started" in found[0].message and found[0].location is not None


def test_rename_that_drops_an_older_alias_is_breaking() -> None:
    new = renamed()
    new["Trial Activated"]["aliases"] = ["Trial Started"]
    codes = {c.code: c.kind for c in changes(new)}
    assert codes["alias_removed"] == "breaking"
    assert "alias_added" not in codes  # the rename's own alias is the rename


def test_rename_without_alias_is_removed_plus_added() -> None:
    new = renamed()
    new["Trial Activated"]["aliases"] = ["Trial Begun"]
    codes = {c.code: c.kind for c in changes(new)}
    assert codes["event_removed"] == "breaking"
    assert codes["event_added"] == "compatible"
    assert "event_renamed" not in codes


def test_two_events_merged_into_one_are_each_compared() -> None:
    old = {**OLD_EVENTS, "Trial Extended": good_event(used_by=["Extension nudge"])}
    new = renamed()
    new["Trial Activated"]["aliases"].append("Trial Extended")
    found = diff_plans(make_plan(old), make_plan(new)).changes
    renames = [c for c in found if c.code == "event_renamed"]
    assert len(renames) == 2
    # What Trial Extended's senders send is now checked against Trial Activated's properties.
    extended = {
        c.path.rsplit(".", 1)[1]: (c.code, c.kind)
        for c in found
        if c.impact == ("Extension nudge", "Trial drip") and ".properties." in c.path
    }
    assert extended == {
        "plan_price_cents": ("property_removed", "breaking"),
        "billing_period": ("property_removed", "breaking"),
        "seats": ("property_added", "compatible"),
        "period": ("property_added", "compatible"),
    }


def test_property_renamed_via_alias_is_compared_with_its_new_self() -> None:
    new = renamed(
        period=None,
        billing_period={"type": "string", "enum": ["monthly"], "aliases": ["period"]},
    )
    found = {c.code: c for c in changes(new)}
    assert found["property_renamed"].kind == "compatible"
    assert found["property_renamed"].path == "events.Trial Activated.properties.billing_period"
    assert "'period'" in found["property_renamed"].message
    assert found["enum_narrowed"].kind == "breaking"
    assert "property_removed" not in found and "property_added" not in found
    assert "property_alias_added" not in found


def test_property_renamed_without_alias_is_removed_plus_added() -> None:
    new = renamed(period=None, billing_period={"type": "string"})
    codes = {c.code: c.kind for c in changes(new)}
    assert codes["property_removed"] == "breaking"
    assert codes["property_added"] == "compatible"
    assert "property_renamed" not in codes


def test_property_alias_removed_is_breaking_and_added_is_not() -> None:
    old = renamed(period={"type": "string", "aliases": ["billing"]})
    new = renamed(period={"type": "string", "aliases": ["cycle"]})
    found = {c.code: c.kind for c in diff_plans(make_plan(old), make_plan(new)).changes}
    assert found == {"property_alias_removed": "breaking", "property_alias_added": "compatible"}


def test_renamed_trait_is_compared_like_an_event_property() -> None:
    traits_old = {"email": {"type": "string"}, "company": {"type": "string"}}
    traits_new = {
        "email": {"type": "string", "format": "email"},
        "company_name": {"type": "integer", "aliases": ["company"]},
        "role": {"type": "string", "required": True},
    }
    found = {
        (c.code, c.path): (c.kind, c.scope)
        for c in diff_plans(
            make_plan(OLD_EVENTS, traits=traits_old), make_plan(OLD_EVENTS, traits=traits_new)
        ).changes
    }
    assert found == {
        ("format_changed", "traits.email"): ("breaking", "trait"),
        ("property_renamed", "traits.company_name"): ("compatible", "trait"),
        ("type_changed", "traits.company_name"): ("breaking", "trait"),
        ("required_property_added", "traits.role"): ("breaking", "trait"),
    }
