"""Stored (wire-form) messages for destination tests, one builder per call type."""

from __future__ import annotations

import itertools
from typing import Any

ACTION_TIME = "2024-05-01T12:00:00.250Z"
ACTION_SECONDS = 1714564800
ACTION_MS = 1714564800250
RECEIVED_AT = "2024-05-01T12:00:03.000Z"
_ids = itertools.count(1)


def wire(type_: str, **fields: Any) -> dict[str, Any]:
    """A message as the store hands it to destinations: camelCase, ISO-8601 UTC strings."""
    message: dict[str, Any] = {
        "type": type_,
        "messageId": f"0190a1b2-0000-7000-8000-{next(_ids):012d}",
        "timestamp": ACTION_TIME,
        "receivedAt": RECEIVED_AT,
    }
    message.update(fields)
    return message


def identify(user_id: str | None = "user-0001", **fields: Any) -> dict[str, Any]:
    """An identify with a few traits."""
    traits = {"email": "ada@example.com", "plan": "pro", "createdAt": "2024-01-02T03:04:05Z"}
    fields.setdefault("traits", traits)
    return wire("identify", **({"userId": user_id} if user_id else {}), **fields)


def track(
    event: str = "Project Created", user_id: str | None = "user-0001", **fields: Any
) -> dict[str, Any]:
    """A track call with properties."""
    fields.setdefault("properties", {"project_id": "p-1", "seats": 3})
    return wire("track", event=event, **({"userId": user_id} if user_id else {}), **fields)


def page(
    name: str | None = "Pricing", user_id: str | None = "user-0001", **fields: Any
) -> dict[str, Any]:
    """A page view with a URL."""
    fields.setdefault("properties", {"url": "https://example.com/pricing", "title": "Pricing"})
    extra = {"name": name} if name else {}
    return wire("page", **extra, **({"userId": user_id} if user_id else {}), **fields)


def screen(
    name: str = "Settings", user_id: str | None = "user-0001", **fields: Any
) -> dict[str, Any]:
    """A screen view."""
    fields.setdefault("properties", {"tab": "billing"})
    return wire("screen", name=name, **({"userId": user_id} if user_id else {}), **fields)


def group(
    group_id: str = "acme-01", user_id: str | None = "user-0001", **fields: Any
) -> dict[str, Any]:
    """A group call with traits."""
    fields.setdefault("traits", {"name": "Acme", "plan": "enterprise"})
    return wire("group", groupId=group_id, **({"userId": user_id} if user_id else {}), **fields)


def alias(
    user_id: str = "user-0001", previous_id: str = "old-0001", **fields: Any
) -> dict[str, Any]:
    """An alias from a previous id to the user id."""
    return wire("alias", userId=user_id, previousId=previous_id, **fields)


def kinds(outcomes: list[Any]) -> list[str]:
    """The kinds of a list of outcomes, for compact assertions."""
    return [outcome.kind for outcome in outcomes]
