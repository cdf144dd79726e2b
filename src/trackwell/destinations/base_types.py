"""What a destination reports per message after trying to deliver it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OutcomeKind = Literal["delivered", "retry", "dead"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Delivered, retry (maybe after `retry_after` seconds) or dead, with the destination's words."""

    kind: OutcomeKind
    error: str | None = None
    retry_after: float | None = None
