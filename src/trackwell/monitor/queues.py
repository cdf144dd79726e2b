"""The JSON form of a destination's queue: one shape for `trackwell deliveries --json` and the
console's `/api/destinations`."""

from __future__ import annotations

from typing import Any

from trackwell.store.base import DeliveryStats


def queue_document(stats: DeliveryStats) -> dict[str, Any]:
    """One destination's queue: counts by state, the oldest pending message's age in seconds
    (None when nothing is pending) and the last error."""
    oldest = stats.oldest_pending_ms
    return {
        "name": stats.destination,
        "pending": stats.pending,
        "in_flight": stats.in_flight,
        "delivered": stats.delivered,
        "captured": stats.captured,
        "no_consent": stats.no_consent,
        "held": stats.held,
        "retry": stats.retry,
        "waiting": stats.waiting,
        "dead": stats.dead,
        "oldest_pending_seconds": None if oldest is None else oldest / 1000,
        "last_error": stats.last_error,
    }
