"""A sensitive id or name blocks its message, unquoted; integrations are scanned like the rest."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from trackwell.core.messages import encode
from trackwell.plan import Plan
from trackwell.quality import CompiledPlan, check_message, compile_plan

from .helpers import message

CARD = "4111 1111 1111 1111"
KEY = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"


@pytest.fixture(scope="module")
def plan(example_plan: Plan) -> CompiledPlan:
    return compile_plan(example_plan)


def _texts(result: Any) -> str:
    return " ".join(f"{v.path} {v.message} {v.suggestion or ''}" for v in result.violations)


@pytest.mark.parametrize(
    ("fields", "attribute", "wire_name"),
    [
        ({"userId": CARD}, "user_id", "userId"),
        ({"anonymousId": KEY}, "anonymous_id", "anonymousId"),
        ({"event": f"paid with {CARD}"}, "event", "event"),
        ({"type": "page", "event": None, "name": KEY}, "name", "name"),
        ({"type": "group", "event": None, "groupId": "078-05-1120"}, "group_id", "groupId"),
        ({"type": "alias", "event": None, "previousId": CARD}, "previous_id", "previousId"),
    ],
)
def test_a_sensitive_id_or_name_blocks_the_message_without_quoting_it(
    plan: CompiledPlan, fields: dict[str, Any], attribute: str, wire_name: str
) -> None:
    original = message(**fields)
    sent = getattr(original, attribute)
    result = check_message(plan, original)
    assert result.verdict == "blocked"
    [violation] = [v for v in result.violations if v.code == "sensitive_data"]
    assert (violation.path, violation.effect) == (wire_name, "block")
    assert "cannot be redacted" in violation.message
    assert result.message is not None
    kept = encode(result.message).decode()
    for text in (kept, _texts(result)):
        assert sent not in text and "1111" not in text and "DaGm" not in text
    assert getattr(result.message, attribute).startswith("[redacted:")
    assert getattr(original, attribute) == sent  # the caller's message is left as sent


def test_the_policy_block_or_redact_does_not_matter_for_ids(example_plan: Plan) -> None:
    for policy in ("redact", "block"):
        policy_of = dataclasses.replace(example_plan.policy, sensitive_data=policy)
        plan = compile_plan(dataclasses.replace(example_plan, policy=policy_of))
        assert check_message(plan, message(userId=CARD)).verdict == "blocked"


def test_a_sensitive_message_id_is_replaced_by_a_fresh_one(plan: CompiledPlan) -> None:
    """The message id is the dedup key: two blocked messages must not collide on a marker."""
    first = check_message(plan, message(messageId=f"{CARD} a"))
    second = check_message(plan, message(messageId=f"{CARD} b"))
    assert first.message is not None and second.message is not None
    ids = {first.message.message_id, second.message.message_id}
    assert len(ids) == 2 and not any("1111" in i for i in ids)
    assert first.verdict == second.verdict == "blocked"


def test_other_fields_are_still_redacted_when_an_id_blocks(plan: CompiledPlan) -> None:
    result = check_message(plan, message(userId=CARD, properties={"plan_name": "pro", "note": KEY}))
    assert result.message is not None
    assert result.message.properties["note"] == "[redacted:secret_token]"
    assert not any(v.code == "unplanned_property" for v in result.violations)


def test_ordinary_ids_and_names_pass(plan: CompiledPlan) -> None:
    result = check_message(
        plan,
        message(
            userId="user-4111111111",
            anonymousId="550e8400-e29b-41d4-a716-446655440000",
            messageId="12345678-1234-4123-8123-123456789012",
        ),
    )
    assert result.verdict == "accepted", result.violations


def test_integrations_are_scanned_and_redacted(plan: CompiledPlan) -> None:
    original = message(
        integrations={"All": True, "Webhook": {"memo": CARD, "apiKey": "abc", "tags": [KEY]}}
    )
    result = check_message(plan, original)
    assert result.verdict == "repaired"
    paths = {v.path for v in result.violations if v.code == "sensitive_data"}
    assert paths == {
        "integrations.Webhook.memo",
        "integrations.Webhook.apiKey",
        "integrations.Webhook.tags[0]",
    }
    assert result.message is not None
    assert result.message.integrations["Webhook"]["memo"] == "[redacted:card_number]"
    assert result.message.integrations["All"] is True
    assert original.integrations["Webhook"]["memo"] == CARD  # the caller's copy, untouched
