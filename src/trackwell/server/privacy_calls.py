"""Person operations sent as messages become privacy requests: Customer.io's delete, suppress and
unsuppress calls (v1 paths, v2 `person` actions) and the Segment-spec semantic events `User
Deleted`, `User Suppressed` and `User Unsuppressed` on /v1/track and /v1/batch.

They are taken out of the request before anything is stored: the privacy service erases or marks
the person and propagates to every destination with receipts, so the message itself is not kept
(an erase must not leave the person's id behind in the log it just cleaned) nor forwarded (the
destinations get the request instead, once). Only server keys get here: a public key's person
operations are refused earlier (`auth.check_allowed`). A person named by a Customer.io id only
(`context.externalIds`, a `cio_<id>` path) is not someone trackwell knows: that operation stays
a message, forwarded to the tool as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from trackwell.core.messages import NUL
from trackwell.core.operations import (
    USER_DELETED,
    USER_SUPPRESSED,
    USER_UNSUPPRESSED,
    operation_of,
)
from trackwell.core.privacy import RequestKind
from trackwell.quality.identity import is_placeholder

KINDS: Final[Mapping[str, RequestKind]] = {
    USER_DELETED: "erase",
    USER_SUPPRESSED: "suppress",
    USER_UNSUPPRESSED: "unsuppress",
}
MAX_PERSON_LENGTH: Final = 255


@dataclass(frozen=True, slots=True)
class Asked:
    """One privacy request a message asks for: its kind and the person's identifier."""

    kind: RequestKind
    person: str


def _person(message: Mapping[str, Any]) -> str | None:
    """The user id, else the anonymous id, as text (Segment ids may be numbers); None when the
    one sent is not a usable id (a placeholder such as `undefined`, a NUL, too long): the
    message is then left to the checks, which block it naming the field."""
    for key in ("userId", "anonymousId"):
        value = message.get(key)
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        usable = (
            isinstance(value, str)
            and not is_placeholder(value)
            and len(value) <= MAX_PERSON_LENGTH
            and NUL not in value
        )
        return value if usable else None
    return None


def asked(item: Any) -> Asked | None:
    """The request a message asks for, or None for any other message."""
    if not isinstance(item, Mapping):
        return None
    kind = KINDS.get(operation_of(item.get("type"), item.get("event")) or "")
    if kind is None:
        return None
    person = _person(item)
    return Asked(kind, person) if person is not None else None


@dataclass(frozen=True, slots=True)
class Split:
    """A request's items parted: the messages to check and store (with their positions in the
    request, which the response's violations name), and the privacy requests to make."""

    kept: list[Any]
    positions: list[int]
    asked: list[Asked]


def split(items: Sequence[Any]) -> Split:
    """The messages and the requests of a request's items, each in their order."""
    parted = Split([], [], [])
    for index, item in enumerate(items):
        found = asked(item)
        if found is None:
            parted.kept.append(item)
            parted.positions.append(index)
        else:
            parted.asked.append(found)
    return parted
