"""Messages for quality tests: valid by default against the example plan, one defect at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trackwell.core.messages import Message, from_json, normalise

NOW = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)
GOOD_PROPERTIES: dict[str, Any] = {
    "plan_name": "pro",
    "plan_price_cents": 19900,
    "billing_period": "monthly",
    "trial_converted": True,
}


def wire(**fields: Any) -> dict[str, Any]:
    """A valid `Subscription Started` track message in wire form, with fields overridden."""
    data: dict[str, Any] = {
        "type": "track",
        "userId": "user-1",
        "event": "Subscription Started",
        "properties": dict(GOOD_PROPERTIES),
        "timestamp": "2026-11-29T09:59:00Z",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def message(**fields: Any) -> Message:
    """`wire(...)` parsed and normalised as received at NOW."""
    return normalise(from_json(wire(**fields)), received_at=NOW)
