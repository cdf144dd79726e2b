"""Identity rules shared by every backend: when an anonymous id may be tied to a person."""

from __future__ import annotations

from dataclasses import dataclass

from trackwell.store.base import MergeOutcome


@dataclass(frozen=True, slots=True)
class MergeDecision:
    """What to do with one identify-with-anonymousId or alias."""

    outcome: MergeOutcome | None  # None: nothing to do (already tied, or same id)
    detail: str = ""


def decide_merge(
    *, anonymous_id: str, user_id: str, current_owner: str | None, anonymous_is_user: bool
) -> MergeDecision:
    """Merges are irreversible downstream (Customer.io, Mixpanel), so only safe ones happen.

    - an anonymous id not yet tied to anyone is tied to `user_id`;
    - one already tied to the same person needs nothing;
    - one tied to another person is a conflict: stored, not moved;
    - an id that is itself an identified user is never merged into another user.
    """
    if anonymous_id == user_id or current_owner == user_id:
        return MergeDecision(None)
    if anonymous_is_user:
        return MergeDecision(
            "refused",
            f"'{anonymous_id}' is an identified user; two identified users are never merged",
        )
    if current_owner is not None:
        return MergeDecision(
            "conflict",
            f"anonymous id '{anonymous_id}' already belongs to user '{current_owner}'",
        )
    return MergeDecision("merged")
