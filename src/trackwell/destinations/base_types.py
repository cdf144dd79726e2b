"""What a destination reports per message after trying to deliver it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# `captured`: recorded in capture mode (explicitly configured) and never sent to the tool.
OutcomeKind = Literal["delivered", "captured", "retry", "dead"]
CAPTURED_NOTE = "capture mode: recorded, not sent to the tool"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Delivered, captured (not sent), retry (maybe after `retry_after` seconds) or dead, with
    the destination's words."""

    kind: OutcomeKind
    error: str | None = None
    retry_after: float | None = None
