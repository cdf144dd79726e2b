"""Every lint code: a plan that triggers it and a near miss that must not."""

from __future__ import annotations

from typing import Any

import pytest

from trackwell.plan import Plan
from trackwell.plan.lint import SEVERITY, lint_plan
from trackwell.plan.naming import closest, confusion, is_past_tense
from trackwell.plan.sensitive import sensitive_kind

from .helpers import GOOD_PROPERTIES, good_event, make_plan


def codes(plan: Plan) -> set[str]:
    return {f.code for f in lint_plan(plan)}


def test_example_plan_is_clean(example_plan: Plan) -> None:
    assert lint_plan(example_plan) == []


def test_the_base_test_plan_is_clean() -> None:
    assert lint_plan(make_plan()) == []


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # code, events that trigger it, events that must not
    ("event_case", {"subscription_started": good_event()}, {"Subscription Started": good_event()}),
    (
        "property_case",
        {"Subscription Started": good_event(properties={**GOOD_PROPERTIES, "planName": "string"})},
        {"Subscription Started": good_event(properties={**GOOD_PROPERTIES, "plan_tier": "string"})},
    ),
    ("event_tense", {"Subscription Start": good_event()}, {"Subscription Began": good_event()}),
    ("event_tense", {"Create Account": good_event()}, {"Activation Event Hit": good_event()}),
    ("raw_ui_event", {"Button Clicked": good_event()}, {"Invite Sent": good_event()}),
    ("raw_ui_event", {"Mouse Moved": good_event()}, {"Account Linked": good_event()}),
    (
        "near_duplicate",
        {"Account Created": good_event(), "Account Crated": good_event()},
        {"Account Created": good_event(), "Account Deleted": good_event()},
    ),
    (
        "near_duplicate",
        {"Account Created": good_event(), "Created Account": good_event()},
        {"Account Created": good_event(), "Account Closed": good_event()},
    ),
    ("missing_stage", {"Trial Started": good_event(stage=None)}, {"Trial Started": good_event()}),
    (
        "unknown_stage",
        {"Trial Started": good_event(stage="Onboarding")},
        {"Trial Started": good_event()},
    ),
    (
        "missing_description",
        {"Trial Started": good_event(description="")},
        {"Trial Started": good_event()},
    ),
    (
        "missing_backfill",
        {"Trial Started": good_event(backfill=None)},
        {"Trial Started": good_event()},
    ),
    (
        "property_count",
        {"Trial Started": good_event(properties={"a_b": "string", "c_d": "string"})},
        {"Trial Started": good_event()},
    ),
    (
        "property_count",
        {"Trial Started": good_event(properties={f"prop_{i}": "string" for i in range(11)})},
        {"Trial Started": good_event(properties={f"prop_{i}": "string" for i in range(10)})},
    ),
    (
        "sensitive_property",
        {"Payment Failed": good_event(properties={**GOOD_PROPERTIES, "card_number": "string"})},
        {"Payment Failed": good_event(properties={**GOOD_PROPERTIES, "card_brand": "string"})},
    ),
    (
        "sensitive_property",
        {"Password Reset": good_event(properties={**GOOD_PROPERTIES, "reset_token": "string"})},
        {"Password Reset": good_event(properties={**GOOD_PROPERTIES, "reset_method": "string"})},
    ),
    (
        "alias_conflict",
        {"Account Created": good_event(aliases=["Signed Up"]), "Signed Up": good_event()},
        {"Account Created": good_event(aliases=["Signed Up"]), "Trial Started": good_event()},
    ),
    (
        "alias_conflict",
        {
            "Account Created": good_event(aliases=["Registered"]),
            "Trial Started": good_event(aliases=["Registered"]),
        },
        {
            "Account Created": good_event(aliases=["Registered"]),
            "Trial Started": good_event(aliases=["Trial Begun"]),
        },
    ),
    (
        "replaced_by_unknown",
        {"Signup Completed": good_event(deprecated=True, replaced_by="Account Creatd")},
        {
            "Signup Completed": good_event(deprecated=True, replaced_by="Account Created"),
            "Account Created": good_event(),
        },
    ),
    (
        "deprecated_without_replacement",
        {"Signup Completed": good_event(deprecated=True)},
        {
            "Signup Completed": good_event(deprecated=True, replaced_by="Trial Started"),
            "Trial Started": good_event(),
        },
    ),
]


@pytest.mark.parametrize(
    ("code", "bad", "good"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_code_fires_on_the_defect_and_not_on_the_near_miss(
    code: str, bad: dict[str, Any], good: dict[str, Any]
) -> None:
    assert code in codes(make_plan(bad))
    assert code not in codes(make_plan(good))


def test_missing_created_at_trait() -> None:
    without = make_plan(traits={"email": "string"})
    assert "missing_created_at" in codes(without)
    assert "missing_created_at" not in codes(make_plan())


def test_sensitive_trait() -> None:
    plan = make_plan(traits={"created_at": "timestamp", "ssn": "string"})
    (finding,) = [f for f in lint_plan(plan) if f.code == "sensitive_property"]
    assert finding.path == "traits.ssn" and "national id" in finding.message


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("card_number", "card_number"),
        ("user_card_number", "card_number"),
        ("cardNumber", "card_number"),
        ("cvv", "cvv"),
        ("new_password", "password"),
        ("invite_token", "secret_token"),
        ("stripe_api_key", "secret_token"),
        ("ssn", "ssn"),
        ("iban", "iban"),
        ("diagnosis", "health"),
        ("token_count", None),
        ("card_brand", None),
        ("plan_name", None),
        ("passenger_count", None),
    ],
)
def test_sensitive_names(name: str, kind: str | None) -> None:
    assert sensitive_kind(name) == kind


def test_event_count_warning_then_error() -> None:
    def plan_with(n: int) -> Plan:
        names = [f"Thing {i:03d} Created" for i in range(n)]
        return make_plan({name: good_event() for name in names})

    def count_findings(plan: Plan) -> list[str]:
        # Names this alike are near duplicates too; only event_count matters here.
        return [f.severity for f in lint_plan(plan) if f.code == "event_count"]

    assert count_findings(plan_with(30)) == []
    assert count_findings(plan_with(31)) == ["warning"]
    assert count_findings(plan_with(201)) == ["error"]


def test_snake_convention_flips_event_case() -> None:
    plan = make_plan({"subscription_started": good_event()}, conventions={"event_case": "snake"})
    assert "event_case" not in codes(plan)
    plan = make_plan({"Subscription Started": good_event()}, conventions={"event_case": "snake"})
    finding = next(f for f in lint_plan(plan) if f.code == "event_case")
    assert "write 'subscription_started'" in finding.message


def test_finding_has_path_line_and_fixed_severity() -> None:
    plan = make_plan({"Account Created": good_event(), "Account Crated": good_event()})
    finding = next(f for f in lint_plan(plan) if f.code == "near_duplicate")
    assert finding.path == "events.Account Crated"
    assert finding.severity == SEVERITY["near_duplicate"] == "error"
    assert finding.location is not None and finding.location.line > 1
    assert finding.to_dict()["line"] == finding.location.line


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        ("Account Created", "account_created", "case"),
        ("Account Created", "Created Account", "order"),
        ("Subscription Cancelled", "Subscription Canceled", "spelling"),
        ("Account Created", "Account Crated", "typo"),
    ],
)
def test_confusions(a: str, b: str, kind: str) -> None:
    found = confusion(a, b)
    assert found is not None and found.kind == kind


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Account Created", "Account Deleted"),
        ("Trial Started", "Trial Ended"),
        ("Invite Sent", "Invite Accepted"),
    ],
)
def test_distinct_names_are_not_confused(a: str, b: str) -> None:
    assert confusion(a, b) is None


def test_closest_prefers_case_over_typo() -> None:
    candidates = ["Account Created", "Account Crated"]
    assert closest("account_created", candidates) == "Account Created"
    assert closest("Zebra Fed", candidates) is None


@pytest.mark.parametrize(
    ("word", "past"),
    [
        ("Created", True),
        ("Sent", True),
        ("Hit", True),
        ("Start", False),
        ("Feed", False),
        ("Account", False),
    ],
)
def test_past_tense(word: str, past: bool) -> None:
    assert is_past_tense(word) is past
