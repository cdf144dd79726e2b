"""Checks against the richer plan: property aliases (renamed, as event aliases are), pages and
screens with their own properties, group traits, and events valid in several versions."""

from __future__ import annotations

from typing import Any

import pytest

from trackwell.core.violations import CheckResult
from trackwell.quality import CODES, CompiledPlan, check_message, compile_plan

from ..plan.rich import rich_plan
from .helpers import message

WORKSPACE = {"workspace_id": "w1"}


@pytest.fixture(scope="module")
def plan() -> CompiledPlan:
    return compile_plan(rich_plan())


def check(plan: CompiledPlan, **fields: Any) -> CheckResult:
    return check_message(plan, message(**fields))


def test_new_codes_are_documented() -> None:
    assert {"aliased_property", "deprecated_version"} <= set(CODES)


def test_an_old_property_name_is_renamed_as_a_repair(plan: CompiledPlan) -> None:
    sent = message(properties={**WORKSPACE, "plan": "pro", "period": "annual"})
    result = check_message(plan, sent)
    assert result.verdict == "repaired"
    assert result.codes == ["aliased_property", "aliased_property"]
    first = result.violations[0]
    assert first.path == "properties.plan" and first.suggestion == "plan_name"
    assert first.effect == "repair"
    assert result.message is not None
    assert result.message.properties == {
        **WORKSPACE,
        "plan_name": "pro",
        "billing_period": "annual",
    }
    assert sent.properties == {**WORKSPACE, "plan": "pro", "period": "annual"}  # caller's copy


def test_a_renamed_value_is_still_checked(plan: CompiledPlan) -> None:
    result = check(plan, properties={**WORKSPACE, "plan": "gold"})
    assert result.verdict == "blocked"
    assert result.codes == ["aliased_property", "invalid_property"]
    assert result.violations[1].path == "properties.plan_name"


def test_an_old_name_beside_the_new_one_is_not_renamed(plan: CompiledPlan) -> None:
    result = check(plan, properties={**WORKSPACE, "plan_name": "pro", "plan": "team"})
    assert result.codes == ["unplanned_property"]  # omitted by the default policy
    assert result.message is not None and result.message.properties["plan_name"] == "pro"


def test_an_alias_of_a_shared_property_works_in_traits(plan: CompiledPlan) -> None:
    result = check(plan, type="identify", event=None, properties=None, traits={"plan": "team"})
    assert result.codes == ["aliased_property"]
    assert result.message is not None and result.message.traits == {"plan_name": "team"}


def test_a_page_with_a_schema_checks_its_properties(plan: CompiledPlan) -> None:
    page: dict[str, Any] = {"type": "page", "event": None, "name": "Pricing"}
    ok = check(plan, **page, properties={"url": "https://x.test/p", "billing_period": "annual"})
    assert ok.verdict == "accepted" and ok.violations == []
    bad = check(plan, **page, properties={"billing_period": "weekly"})
    assert bad.verdict == "blocked" and bad.codes == ["invalid_property"]
    extra = check(plan, **page, properties={"title": "Pricing", "coupon": "X"})
    assert extra.codes == ["unplanned_property"] and extra.verdict == "repaired"
    renamed = check(plan, **page, properties={"plan": "pro"})
    assert renamed.codes == ["aliased_property"]


def test_a_page_without_a_schema_keeps_its_properties_unchecked(plan: CompiledPlan) -> None:
    result = check(plan, type="page", event=None, name="Home", properties={"anything": 1})
    assert result.verdict == "accepted" and result.violations == []


def test_a_screen_with_a_schema_requires_its_required_properties(plan: CompiledPlan) -> None:
    screen: dict[str, Any] = {"type": "screen", "event": None, "name": "Dashboard"}
    assert check(plan, **screen, properties={**WORKSPACE}).violations == []
    missing = check(plan, **screen, properties={})
    assert missing.codes == ["missing_property"] and missing.verdict == "blocked"


def test_group_traits_are_checked_like_identify_traits(plan: CompiledPlan) -> None:
    group: dict[str, Any] = {"type": "group", "event": None, "properties": None, "groupId": "g1"}
    ok = check(plan, **group, traits={"workspace_name": "Acme", "seats": 3})
    assert ok.verdict == "accepted" and ok.violations == []
    bad = check(plan, **group, traits={"workspace_name": "Acme", "seats": 0})
    assert bad.codes == ["invalid_trait"] and bad.verdict == "blocked"
    partial = check(plan, **group, traits={"seat_count": 4})
    # A partial update: the missing required trait is reported, the old name renamed.
    assert sorted(partial.codes) == ["aliased_property", "missing_trait"]
    assert partial.verdict == "repaired"
    assert partial.message is not None and partial.message.traits == {"seats": 4}


def test_without_a_group_section_group_traits_stay_unchecked() -> None:
    from trackwell.plan import parse_plan

    bare = compile_plan(parse_plan("trackwell: 1\nname: T\nversion: 1\nevents: {}\n"))
    result = check_message(
        bare, message(type="group", event=None, properties=None, groupId="g", traits={"x": 1})
    )
    assert result.violations == []


CHECKOUT: dict[str, Any] = {"event": "Checkout Completed"}


def test_a_message_matching_the_live_version_is_accepted(plan: CompiledPlan) -> None:
    props = {"order_id": "o1", "total_cents": 990, "currency": "EUR"}
    result = check(plan, **CHECKOUT, properties=props)
    assert result.verdict == "accepted" and result.violations == []


def test_a_message_matching_a_retired_version_is_accepted_and_reported(
    plan: CompiledPlan,
) -> None:
    result = check(plan, **CHECKOUT, properties={"order_id": "o1", "total": "9.90"})
    assert result.verdict == "accepted"
    assert result.codes == ["deprecated_version"]
    assert result.violations[0].suggestion == "v2"
    assert "matched v1, a retired version; send v2" in result.violations[0].message


def test_a_message_matching_no_version_gets_the_closest_versions_violations(
    plan: CompiledPlan,
) -> None:
    props = {"order_id": "o1", "total_cents": 990, "currency": "GBP"}
    result = check(plan, **CHECKOUT, properties=props)
    assert result.verdict == "blocked"
    assert result.codes == ["invalid_property"]
    assert result.violations[0].path == "properties.currency"
    assert result.violations[0].message.endswith("(closest version: v2)")


def test_mixing_two_versions_is_not_a_match(plan: CompiledPlan) -> None:
    props = {"order_id": "o1", "total": "9.90", "currency": "EUR"}
    result = check(plan, **CHECKOUT, properties=props)
    # v1 is closest (only the v2 key is extra); it is omitted, and v1 is retired.
    assert result.codes == ["unplanned_property", "deprecated_version"]
    assert result.message is not None
    assert result.message.properties == {"order_id": "o1", "total": "9.90"}


def test_the_common_properties_bind_every_version(plan: CompiledPlan) -> None:
    result = check(plan, **CHECKOUT, properties={"total_cents": 990, "currency": "EUR"})
    assert result.codes == ["missing_property"]
    assert "order_id" in result.violations[0].message
