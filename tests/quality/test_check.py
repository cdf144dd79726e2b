"""Every violation code: an input that triggers it, and a near miss that must not."""

from __future__ import annotations

from typing import Any

import pytest

from trackwell.plan import Plan, parse_plan
from trackwell.plan.dump import dump_plan
from trackwell.quality import CODES, CompiledPlan, check_message, compile_plan
from trackwell.quality.sequence import SequenceChecker

from .helpers import GOOD_PROPERTIES, message


@pytest.fixture(scope="module")
def plan(example_plan: Plan) -> CompiledPlan:
    return compile_plan(example_plan)


def codes(plan: CompiledPlan, **fields: Any) -> list[str]:
    return check_message(plan, message(**fields)).codes


def test_a_valid_event_is_accepted_untouched(plan: CompiledPlan) -> None:
    original = message()
    result = check_message(plan, original)
    assert result.verdict == "accepted" and result.violations == []
    assert result.message is original


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("missing_identity", {"userId": None}, {"userId": None, "anonymousId": "anon-7f3a"}),
    ("invalid_identity", {"userId": "undefined"}, {"userId": "user-0"}),
    ("invalid_identity", {"userId": " "}, {"userId": "guest-42"}),
    ("invalid_identity", {"userId": "[object Object]"}, {"userId": "object-1"}),
    (
        "unplanned_event",
        {"event": "Account Crated"},
        {"event": "Account Created", "properties": {"plan": "free", "signup_source": "organic"}},
    ),
    (
        "aliased_event",
        {"event": "Signed Up", "properties": {"plan": "free", "signup_source": "organic"}},
        {"event": "Account Created", "properties": {"plan": "free", "signup_source": "organic"}},
    ),
    ("missing_property", {"properties": {"plan_name": "pro", "billing_period": "monthly"}}, {}),
    ("invalid_property", {"properties": {**GOOD_PROPERTIES, "plan_price_cents": "19900"}}, {}),
    ("invalid_property", {"properties": {**GOOD_PROPERTIES, "plan_name": "gold"}}, {}),
    (
        "invalid_property",
        {"properties": {**GOOD_PROPERTIES, "plan_price_cents": -1}},
        {"properties": {**GOOD_PROPERTIES, "plan_price_cents": 0}},
    ),
    (
        "unplanned_property",
        {"properties": {**GOOD_PROPERTIES, "coupon": "X"}},
        {"properties": {**GOOD_PROPERTIES, "team_size": 3}},
    ),
    ("missing_timestamp", {"timestamp": None}, {}),
    (
        "future_timestamp",
        {"timestamp": "2026-11-29T10:06:00Z"},
        {"timestamp": "2026-11-29T10:02:00Z"},
    ),
    (
        "stale_timestamp",
        {"timestamp": "2025-10-01T00:00:00Z"},
        {"timestamp": "2025-11-29T00:00:00Z"},
    ),
]


@pytest.mark.parametrize(
    ("code", "bad", "good"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_code_triggers_and_near_miss_does_not(
    plan: CompiledPlan, code: str, bad: dict[str, Any], good: dict[str, Any]
) -> None:
    assert code in codes(plan, **bad)
    assert code not in codes(plan, **good)


def test_unplanned_event_suggestions(plan: CompiledPlan) -> None:
    def suggestion(name: str) -> str | None:
        result = check_message(plan, message(event=name))
        (violation,) = [v for v in result.violations if v.code == "unplanned_event"]
        return violation.suggestion

    assert suggestion("account_created") == "Account Created"
    assert suggestion("Created Account") == "Account Created"
    assert suggestion("Account Crated") == "Account Created"
    assert suggestion("subscription_canceled") == "Subscription Cancelled"
    assert suggestion("Account Deleted") is None
    assert suggestion("Quantum Flux Observed") is None


def test_aliased_event_is_renamed_on_a_copy(plan: CompiledPlan) -> None:
    original = message(
        event="Subscription Canceled", properties={"plan_name": "pro", "reason": "price"}
    )
    result = check_message(plan, original)
    assert result.verdict == "repaired"
    assert result.message is not None and result.message.event == "Subscription Cancelled"
    assert original.event == "Subscription Canceled"


def test_deprecated_event_names_the_replacement() -> None:
    text = dump_plan(
        parse_plan(
            "trackwell: 1\nname: T\nversion: 1\nevents:\n"
            "  Signup Completed: {stage: Activation, deprecated: true, replaced_by: Account Created}\n"
            "  Account Created: {stage: Activation}\n"
        )
    )
    compiled = compile_plan(parse_plan(text))
    result = check_message(compiled, message(event="Signup Completed", properties={}))
    (violation,) = result.violations
    assert violation.code == "deprecated_event" and violation.suggestion == "Account Created"
    assert result.verdict == "accepted"
    result = check_message(compiled, message(event="Account Created", properties={}))
    assert result.violations == []


def test_invalid_property_message_names_expected_and_actual(plan: CompiledPlan) -> None:
    result = check_message(
        plan, message(properties={**GOOD_PROPERTIES, "plan_price_cents": "19900"})
    )
    (violation,) = result.violations
    assert violation.path == "properties.plan_price_cents"
    assert violation.message == "'plan_price_cents': expected integer, got string '19900'"
    assert result.verdict == "blocked"


def test_unplanned_property_is_omitted_by_default_policy(plan: CompiledPlan) -> None:
    result = check_message(plan, message(properties={**GOOD_PROPERTIES, "coupon": "X"}))
    assert result.verdict == "repaired"
    assert result.message is not None and "coupon" not in result.message.properties


def test_nested_unplanned_and_invalid_properties(plan: CompiledPlan) -> None:
    props = {"steps_completed": 3, "completed_steps": ["a", 5]}
    result = check_message(plan, message(event="Onboarding Completed", properties=props))
    (violation,) = result.violations
    assert (
        violation.code == "invalid_property" and violation.path == "properties.completed_steps[1]"
    )


POLICY_PLAN = """
trackwell: 1
name: Policies
version: 1
policy: {unplanned_event: allow, unplanned_property: block, invalid_property: allow, sensitive_data: block}
traits: {email: {type: string, format: email, required: true}, created_at: timestamp}
events:
  Order Completed:
    stage: Expansion
    properties:
      total: {type: number, required: true}
      address: {type: object, properties: {city: string}}
pages: [Pricing]
screens: [Home]
"""


@pytest.fixture(scope="module")
def policy_plan() -> CompiledPlan:
    return compile_plan(parse_plan(POLICY_PLAN))


def test_policies_change_the_effect(policy_plan: CompiledPlan) -> None:
    unplanned = check_message(policy_plan, message(event="Anything Happened"))
    assert unplanned.verdict == "accepted" and unplanned.codes == ["unplanned_event"]
    extra = check_message(
        policy_plan, message(event="Order Completed", properties={"total": 1, "x": 1})
    )
    assert extra.verdict == "blocked" and extra.codes == ["unplanned_property"]
    nested = check_message(
        policy_plan,
        message(event="Order Completed", properties={"total": 1, "address": {"zip": "1"}}),
    )
    assert (
        nested.codes == ["unplanned_property"]
        and nested.violations[0].path == "properties.address.zip"
    )
    invalid = check_message(
        policy_plan, message(event="Order Completed", properties={"total": "1"})
    )
    assert invalid.verdict == "accepted" and invalid.codes == ["invalid_property"]
    secret = check_message(
        policy_plan,
        message(
            event="Order Completed",
            properties={"total": 1, "address": {"city": "4111111111111111"}},
        ),
    )
    assert secret.verdict == "blocked"
    assert secret.message is not None
    assert secret.message.properties["address"]["city"] == "[redacted:card_number]"


def test_identify_traits(policy_plan: CompiledPlan) -> None:
    def identify(traits: dict[str, Any]) -> list[str]:
        return check_message(
            policy_plan, message(type="identify", event=None, properties=None, traits=traits)
        ).codes

    assert identify({"email": "a@b.co", "created_at": 1700000000}) == []
    assert identify({"created_at": 1700000000}) == ["missing_trait"]
    assert identify({"email": "not-an-email"}) == ["invalid_trait"]
    assert identify({"email": "a@b.co", "favourite_colour": "red"}) == ["unplanned_trait"]
    missing_only = check_message(
        policy_plan, message(type="identify", event=None, properties=None, traits={"created_at": 1})
    )
    assert missing_only.verdict == "accepted"  # a partial identify is never blocked


def test_pages_and_screens(policy_plan: CompiledPlan) -> None:
    def page(kind: str, name: str | None) -> list[str]:
        return check_message(
            policy_plan, message(type=kind, event=None, name=name, properties={})
        ).codes

    assert page("page", "Pricing") == []
    assert page("page", "Dashboard / Settings") == ["unplanned_page"]
    assert page("page", None) == ["unplanned_page"]
    assert page("screen", "Home") == []
    assert page("screen", "Pricing") == ["unplanned_screen"]
    result = check_message(
        policy_plan, message(type="page", event=None, name="pricing", properties={})
    )
    assert result.violations[0].suggestion == "Pricing"


def test_sensitive_data_kinds_in_properties_traits_and_context(plan: CompiledPlan) -> None:
    props = {**GOOD_PROPERTIES, "referral_source": "card 4111-1111-1111-1111 please"}
    context = {
        "page": {"url": "https://app.example.com/reset?token=abc123def456"},
        "password": "hunter2",
    }
    result = check_message(plan, message(properties=props, context=context))
    found = {(v.path, v.kind) for v in result.violations if v.code == "sensitive_data"}
    assert found == {
        ("properties.referral_source", "card_number"),
        ("context.page.url", "secret_token"),
        ("context.password", "password"),
    }
    assert result.verdict == "repaired"
    assert result.message is not None
    text = repr(result.message) + repr([v.to_dict() for v in result.violations])
    assert "4111" not in text and "hunter2" not in text and "abc123def456" not in text


def test_every_code_is_documented() -> None:
    assert set(CODES) >= {
        "malformed", "missing_identity", "invalid_identity", "unplanned_event", "aliased_event",
        "deprecated_event", "missing_property", "invalid_property", "unplanned_property",
        "missing_trait", "invalid_trait", "unplanned_trait", "unplanned_page", "unplanned_screen",
        "sensitive_data", "missing_timestamp", "future_timestamp", "stale_timestamp",
        "duplicate_message_id", "identify_after_track",
    }  # fmt: skip


def test_stale_timestamp_is_allowed_when_backfilling(plan: CompiledPlan) -> None:
    stale = message(timestamp="2025-01-01T00:00:00Z")
    assert check_message(plan, stale).verdict == "blocked"
    result = check_message(plan, stale, backfill=True)
    assert result.verdict == "accepted" and result.codes == ["stale_timestamp"]


def test_sequence_duplicate_ids_and_identify_after_track(plan: CompiledPlan) -> None:
    checker = SequenceChecker(plan)
    first = checker.check(message(messageId="m1"))
    second = checker.check(message(messageId="m1"))
    assert (
        first.codes == []
        and second.codes == ["duplicate_message_id"]
        and second.verdict == "blocked"
    )
    identify = message(
        type="identify",
        event=None,
        properties=None,
        traits={"email": "a@b.co", "created_at": 1},
        messageId="m2",
    )
    assert checker.check(identify).codes == ["identify_after_track"]
    # A user identified first is fine.
    fresh = SequenceChecker(plan)
    other = message(
        type="identify",
        event=None,
        properties=None,
        userId="user-2",
        traits={"email": "b@b.co", "created_at": 1},
    )
    assert fresh.check(other).codes == []
    assert fresh.check(message(userId="user-2")).codes == []


def test_python_built_message_with_wrong_types_is_malformed(plan: CompiledPlan) -> None:
    bad = message()
    bad.properties = ["not", "a", "dict"]  # type: ignore[assignment]
    result = check_message(plan, bad)
    assert result.verdict == "blocked" and result.codes == ["malformed"]


def test_sensitive_data_in_an_unknown_top_level_field_is_redacted(plan: CompiledPlan) -> None:
    original = message(card_on_file="4111 1111 1111 1111")
    result = check_message(plan, original)
    (violation,) = result.violations
    assert violation.code == "sensitive_data" and violation.path == "card_on_file"
    assert (
        result.message is not None
        and result.message.extra["card_on_file"] == "[redacted:card_number]"
    )
    assert original.extra["card_on_file"] == "4111 1111 1111 1111"  # the caller's copy untouched
