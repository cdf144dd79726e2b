"""A test double for `trackwell.interfaces.TrackingClient` that keeps every call it gets.

It is also copied next to generated modules, where mypy and pyright check that it fits the
Protocol the generated `Events` class asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trackwell.interfaces import Timestamp


class Recorder:
    """Records `track` and `identify` calls as plain tuples and dicts."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str | None, dict[str, Any], dict[str, Any]]] = []

    def track(
        self,
        user_id: str | None,
        event: str,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
    ) -> None:
        """Keep one track call."""
        options = {"anonymous_id": anonymous_id, "timestamp": timestamp, "message_id": message_id}
        self.calls.append(("track", user_id, event, dict(properties or {}), options))

    def identify(
        self,
        user_id: str | None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        timestamp: Timestamp | None = None,
        message_id: str | None = None,
    ) -> None:
        """Keep one identify call."""
        options = {"anonymous_id": anonymous_id, "timestamp": timestamp, "message_id": message_id}
        self.calls.append(("identify", user_id, None, dict(traits or {}), options))
