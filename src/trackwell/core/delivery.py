"""Which messages a destination takes: the filter the destinations declare and the store applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """Which messages a destination takes: by type and by event name."""

    types: frozenset[str] | None = None
    events: frozenset[str] | None = None
    exclude_events: frozenset[str] = frozenset()

    def accepts(self, type_: str, name: str | None) -> bool:
        """Whether a message of this type and event/page name goes to the destination."""
        if self.types is not None and type_ not in self.types:
            return False
        if type_ == "track" and name is not None:
            if name in self.exclude_events:
                return False
            if self.events is not None and name not in self.events:
                return False
        return True

    def to_dict(self) -> dict[str, list[str] | None]:
        """A JSON-ready form, stored with the destination."""
        return {
            "types": sorted(self.types) if self.types is not None else None,
            "events": sorted(self.events) if self.events is not None else None,
            "exclude_events": sorted(self.exclude_events),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryFilter:
        """The inverse of `to_dict`."""
        types, events = data.get("types"), data.get("events")
        return cls(
            types=frozenset(types) if types is not None else None,
            events=frozenset(events) if events is not None else None,
            exclude_events=frozenset(data.get("exclude_events") or ()),
        )
