"""Consent: the plan's consent policy and the per-message decision whether a destination may
get a message.

Consent comes first from the message itself, in the shape Segment's Consent Management stamps on
every event (`context.consent.categoryPreferences`, an object of category -> boolean), then from a
trait of the person's profile that the plan names (the same object shape), and only when neither
says anything from the plan's `missing_consent` policy.

Segment's documented rules, followed here
(https://www.twilio.com/docs/segment/privacy/consent-management/consent-in-segment-connections):
a message with a consent object, even an empty one, is consent information, and a category it
does not list as `true` is not consented; a destination mapped to several categories gets the
message only when every one of them is consented
(https://www.twilio.com/docs/segment/privacy/consent-management/consent-faq). Where Segment lets a
message without any consent object flow unenforced, trackwell makes the plan say so
(`missing_consent: deliver`), or hold or drop it instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

MissingConsent: TypeAlias = Literal["deliver", "hold", "drop"]
MISSING_CONSENT: Final[tuple[MissingConsent, ...]] = ("deliver", "hold", "drop")
# How often a destination's held messages are looked at again, by default (seconds).
DEFAULT_RECHECK_SECONDS: Final = 30.0
NO_INFORMATION = "no consent information"


class ConsentConfigError(ValueError):
    """Destinations require consent but the plan does not say what missing consent means."""


def check_configured(requiring: list[str], policy: ConsentPolicy | None) -> None:
    """Refuse to route when a destination requires consent and the plan has no consent policy:
    nothing is silently enforced or skipped."""
    if requiring and policy is None:
        raise ConsentConfigError(
            f"destination(s) {', '.join(requiring)} require consent, but the plan has no "
            "policy.consent: write `policy: consent: missing_consent:` deliver, hold or drop "
            "(and `trait:` to read consent from profiles)"
        )


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """The plan's `policy.consent`: the trait that holds a person's consent (None: the profile is
    not read), and what a message without any consent information means for a destination that
    requires consent."""

    missing_consent: MissingConsent
    trait: str | None = None


Verdict: TypeAlias = Literal["deliver", "no_consent", "hold"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one message may go to one destination, and the words that say why not."""

    verdict: Verdict
    detail: str | None = None


DELIVER: Final = Decision("deliver")


def message_consent(message: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The message's own category preferences; None when it carries no consent object.

    A consent object without `categoryPreferences`, or with one that is not an object, is
    information that consents to nothing (Segment treats an empty consent object the same way)."""
    context = message.get("context")
    if not isinstance(context, Mapping):
        return None
    consent = context.get("consent")
    if not isinstance(consent, Mapping):
        return None
    preferences = consent.get("categoryPreferences")
    return preferences if isinstance(preferences, Mapping) else {}


def person_of(message: Mapping[str, Any]) -> str | None:
    """The key a profile is found by: the user id, else the anonymous id."""
    for key in ("userId", "anonymousId"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def decide(
    required: tuple[str, ...],
    preferences: Mapping[str, Any] | None,
    trait_value: Any,
    policy: ConsentPolicy,
) -> Decision:
    """The decision for one message and a destination requiring `required` categories.

    `preferences` is the message's own (`message_consent`), `trait_value` the person's consent
    trait (None: none known). Only a JSON `true` consents; a trait that is present but not an
    object consents to nothing."""
    if not required:
        return DELIVER
    if preferences is not None:
        return _against(required, preferences, "the message's consent")
    if trait_value is not None:
        if not isinstance(trait_value, Mapping):
            return Decision("no_consent", f"trait {policy.trait} is not an object of categories")
        return _against(required, trait_value, f"trait {policy.trait}")
    if policy.missing_consent == "deliver":
        return DELIVER
    if policy.missing_consent == "hold":
        return Decision("hold", NO_INFORMATION)
    return Decision("no_consent", NO_INFORMATION)


def _against(required: tuple[str, ...], granted: Mapping[str, Any], where: str) -> Decision:
    missing = [category for category in required if granted.get(category) is not True]
    if not missing:
        return DELIVER
    return Decision("no_consent", f"no consent for {', '.join(missing)} ({where})")
