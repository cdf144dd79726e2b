"""How many rows a list shows: a default, more on request (`?limit=`), up to a hard cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

LIMIT_PARAM = "limit"


@dataclass(frozen=True, slots=True)
class Window:
    """A list's length: how many were asked for, and whether the list was cut there."""

    limit: int
    cap: int

    @classmethod
    def of(cls, request: Request, default: int, cap: int) -> Window:
        """The window a request asks for: `?limit=` clamped to [default, cap]."""
        raw = request.query_params.get(LIMIT_PARAM, "")
        asked = int(raw) if raw.isdigit() else default
        return cls(max(default, min(asked, cap)), cap)

    def describe(self, shown: int) -> dict[str, Any]:
        """What the page says under a list: how many are shown, whether more exist and the next
        limit (None at the cap, where the page says to narrow the filters instead)."""
        cut = shown >= self.limit
        return {
            "shown": shown,
            "cut": cut,
            "more": min(self.limit * 2, self.cap) if cut and self.limit < self.cap else None,
            "cap": self.cap,
        }
