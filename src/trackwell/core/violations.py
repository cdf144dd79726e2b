"""Violations and verdicts: what the checks found in a message and what happened to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from trackwell.core.messages import Message

Verdict: TypeAlias = Literal["accepted", "repaired", "blocked"]
# What a violation did to its message: stopped it, changed it, or was only recorded.
Effect: TypeAlias = Literal["block", "repair", "report"]

# Every code the checks produce, with what it means; README documents the same list.
CODES: dict[str, str] = {
    "malformed": "not a message: not an object, unknown type, or a field of the wrong type",
    "too_large": "a message over 32 KB",
    "too_deep": "nesting deeper than 8 levels",
    "key_too_long": "a key longer than 255 characters",
    "missing_identity": "no userId and no anonymousId",
    "invalid_identity": "a placeholder id (null, undefined, 0, guest) that would merge strangers",
    "unplanned_event": "an event name that is not in the plan",
    "aliased_event": "an old event name, renamed to the planned one",
    "deprecated_event": "a deprecated event",
    "deprecated_version": "an event that matched only a retired version of its properties",
    "aliased_property": "an old property (or trait) name, renamed to the planned one",
    "missing_property": "a required property is missing",
    "invalid_property": "a property of the wrong type, outside its enum, range, pattern or format",
    "unplanned_property": "a property that is not in the plan",
    "missing_trait": "a required trait is missing from an identify",
    "invalid_trait": "a trait of the wrong type, outside its enum, range, pattern or format",
    "unplanned_trait": "a trait that is not in the plan",
    "unplanned_page": "a page name outside the plan's pages",
    "unplanned_screen": "a screen name outside the plan's screens",
    "sensitive_data": "card numbers, CVVs, national ids, passwords, secrets, IBANs or health data",
    "missing_timestamp": "no action timestamp: receivedAt was used",
    "future_timestamp": "an action time more than 5 minutes ahead, after clock-skew correction",
    "stale_timestamp": "an action time older than 13 months (allowed only when backfilling)",
    "duplicate_message_id": "a messageId seen before",
    "identify_after_track": "a user's events arrived before their first identify",
    "identity_conflict": "an anonymous id already tied to another person, or a merge of two users",
    "strict_mode": "refused with its request in strict mode because another message was blocked",
    "not_for_browser": "from a browser key: an event the plan does not mark browser: true, or"
    " under an anonymous id already tied to an identified person",
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong with a message: a stable code, where, what, and what was done about it."""

    code: str
    path: str
    message: str
    effect: Effect = "report"
    suggestion: str | None = None
    kind: str | None = None

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready form; absent suggestion and kind are left out."""
        data = {
            "code": self.code,
            "path": self.path,
            "message": self.message,
            "effect": self.effect,
        }
        if self.suggestion is not None:
            data["suggestion"] = self.suggestion
        if self.kind is not None:
            data["kind"] = self.kind
        return data


@dataclass(slots=True)
class CheckResult:
    """The verdict on one message, the message as it goes on (repaired), and its violations."""

    verdict: Verdict
    message: Message | None
    violations: list[Violation] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        """The violation codes, in order."""
        return [v.code for v in self.violations]


def verdict_of(violations: list[Violation], changed: bool) -> Verdict:
    """Blocked if any violation blocks; repaired if the message was changed; else accepted."""
    if any(v.effect == "block" for v in violations):
        return "blocked"
    return "repaired" if changed else "accepted"
