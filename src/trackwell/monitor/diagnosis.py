"""A `why` diagnosis: one finding about a person's events, in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One finding about the person's events, in plain words."""

    code: str
    message: str
    message_id: str | None = None
    destination: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            k: v
            for k, v in (
                ("code", self.code),
                ("message", self.message),
                ("messageId", self.message_id),
                ("destination", self.destination),
            )
            if v is not None
        }
