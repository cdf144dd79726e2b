"""Operations (`trackwell.core.operations`) in the checks: no plan check, identity and sensitive data
still checked, and a device operation's push token kept."""

from __future__ import annotations

import pytest

from trackwell.core.operations import DELIVERY_METRIC, DEVICE_UPDATED, OPERATIONS, USER_DELETED
from trackwell.plan import Plan
from trackwell.quality import CompiledPlan, check_message, compile_plan

from .helpers import message

TOKEN = (
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)


@pytest.fixture(scope="module")
def plan(example_plan: Plan) -> CompiledPlan:
    return compile_plan(example_plan)


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_an_operation_is_never_an_unplanned_event(plan: CompiledPlan, name: str) -> None:
    result = check_message(
        plan, message(event=name, properties={"objectId": "acme"}, timestamp=None)
    )
    assert result.verdict == "accepted" and result.violations == []


def test_an_operation_still_needs_an_identity(plan: CompiledPlan) -> None:
    result = check_message(plan, message(event=USER_DELETED, userId="null", properties={}))
    assert result.verdict == "blocked" and result.codes == ["invalid_identity"]


def test_only_the_device_token_of_a_device_operation_is_kept(plan: CompiledPlan) -> None:
    device = {"device": {"token": TOKEN, "type": "ios"}}
    kept = check_message(plan, message(event=DEVICE_UPDATED, context=device, properties={}))
    assert kept.verdict == "accepted" and kept.message is not None
    assert kept.message.context["device"]["token"] == TOKEN
    leaked = check_message(
        plan, message(event=DEVICE_UPDATED, context=device, properties={"session": TOKEN})
    )
    assert leaked.codes == ["sensitive_data"] and leaked.message is not None
    assert leaked.message.properties["session"] == "[redacted:secret_token]"
    ordinary = check_message(plan, message(event="Feature Used", context=device))
    assert "sensitive_data" in ordinary.codes
    assert ordinary.message is not None
    assert ordinary.message.context["device"]["token"] == "[redacted:secret_token]"


def test_a_push_metric_keeps_its_device_token_and_needs_no_person(plan: CompiledPlan) -> None:
    device = {"device": {"token": TOKEN}}
    properties = {"deliveryId": "dlv-1", "metric": "opened", "recipient": "apns-token"}
    metric = message(
        event=DELIVERY_METRIC,
        userId=None,
        anonymousId="cio_delivery:dlv-1",
        context=device,
        properties=properties,
        timestamp=None,
    )
    result = check_message(plan, metric)
    assert result.verdict == "accepted" and result.violations == []
    assert result.message is not None and result.message.context["device"]["token"] == TOKEN
