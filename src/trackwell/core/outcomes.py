"""What a delivery attempt came to for one message: the one `Outcome` of the package.

Destinations report it, the retry policy and the router read it, and the store records its
kind (`OutcomeKind`) in each `DeliveryResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# `captured`: recorded in capture mode (explicitly configured) and never sent to the tool.
# `no_consent`: settled without being sent, because the person has not consented to a category
# the destination requires (or the plan drops messages without consent information); `held`:
# not sent yet, waiting for consent information (`core/consent.py`). The router decides both
# before a message reaches a destination; no destination reports them.
OutcomeKind = Literal["delivered", "captured", "retry", "dead", "no_consent", "held"]
CAPTURED_NOTE = "capture mode: recorded, not sent to the tool"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Delivered, captured (not sent), retry (maybe after `retry_after` seconds) or dead, with
    the destination's words; or no_consent / held, with the router's."""

    kind: OutcomeKind
    error: str | None = None
    retry_after: float | None = None
