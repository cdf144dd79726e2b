"""The shape of a trackwell client, as a Protocol, so generated helpers accept a test double (public path)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Timestamp", "TrackingClient"]

Timestamp = datetime | int | float | str


class TrackingClient(Protocol):
    """What generated helpers call: `trackwell.Client` satisfies it, and so can a recorder."""

    def track(
        self,
        user_id: str | None,
        event: str,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Record that a person did something."""
        ...

    def identify(
        self,
        user_id: str | None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
    ) -> Any:
        """Record who a person is and set their traits."""
        ...
