"""The consent decision for one message and one destination, as a table."""

from __future__ import annotations

from typing import Any

import pytest

from trackwell.core.consent import (
    ConsentConfigError,
    ConsentPolicy,
    Decision,
    check_configured,
    decide,
    message_consent,
    person_of,
)

HOLD = ConsentPolicy(missing_consent="hold", trait="consent")


def with_consent(consent: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u1", "context": {"consent": consent}}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"type": "track"}, None),
        ({"context": "nonsense"}, None),
        (with_consent(None), None),
        (with_consent({}), {}),  # present but empty: consents to nothing (Segment's rule)
        (with_consent({"categoryPreferences": "yes"}), {}),
        (with_consent({"categoryPreferences": {"Ads": True}}), {"Ads": True}),
    ],
)
def test_the_message_consent_is_segments_category_preferences(
    message: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    assert message_consent(message) == expected


@pytest.mark.parametrize(
    ("required", "preferences", "trait", "policy", "expected"),
    [
        ((), None, None, HOLD, Decision("deliver")),
        (("ads",), {"ads": True}, {"ads": False}, HOLD, Decision("deliver")),  # message wins
        (
            ("ads", "analytics"),
            {"ads": True, "analytics": "true"},  # only a JSON true consents
            None,
            HOLD,
            Decision("no_consent", "no consent for analytics (the message's consent)"),
        ),
        (
            ("Ads",),
            {"ads": True},  # names compare exactly
            None,
            HOLD,
            Decision("no_consent", "no consent for Ads (the message's consent)"),
        ),
        (("ads",), None, {"ads": True}, HOLD, Decision("deliver")),
        (
            ("ads",),
            None,
            {"ads": False},
            HOLD,
            Decision("no_consent", "no consent for ads (trait consent)"),
        ),
        (
            ("ads",),
            None,
            ["ads"],
            HOLD,
            Decision("no_consent", "trait consent is not an object of categories"),
        ),
        (("ads",), None, None, HOLD, Decision("hold", "no consent information")),
        (("ads",), None, None, ConsentPolicy("deliver"), Decision("deliver")),
        (
            ("ads",),
            None,
            None,
            ConsentPolicy("drop"),
            Decision("no_consent", "no consent information"),
        ),
    ],
)
def test_decide(
    required: tuple[str, ...],
    preferences: dict[str, Any] | None,
    trait: Any,
    policy: ConsentPolicy,
    expected: Decision,
) -> None:
    assert decide(required, preferences, trait, policy) == expected


def test_the_person_is_the_user_id_else_the_anonymous_id() -> None:
    assert person_of({"userId": "u1", "anonymousId": "a1"}) == "u1"
    assert person_of({"userId": "", "anonymousId": "a1"}) == "a1"
    assert person_of({"type": "track"}) is None


def test_requiring_consent_without_a_policy_is_a_configuration_error() -> None:
    check_configured([], None)
    check_configured(["crm"], HOLD)
    with pytest.raises(ConsentConfigError, match="crm require consent"):
        check_configured(["crm"], None)
