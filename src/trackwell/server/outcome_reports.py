"""The generic outcome webhook's body read into outcome reports: any tool that can sign a
webhook reports what it did with trackwell's messages, so the model is not Customer.io's alone.

The shape (documented in README, "Outcome webhooks"): one JSON object or an array of them,

    {"event_id": "unique per report", "metric": "delivered", "object_type": "email",
     "timestamp": "2026-12-07T10:00:00Z" (or Unix seconds),
     "user_id": "...", "anonymous_id": "...", "email": "...",
     "message_id": "the trackwell messageId that triggered it",
     "campaign_id": "...", "broadcast_id": "...", "action_id": "...", "delivery_id": "..."}

As for Customer.io, nothing is refused for what it says: a missing `event_id` becomes the hash
of the object, a missing time the arrival time, and the object is kept whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trackwell.core.privacy import normalise_email
from trackwell.server.cio_reports import body_id, epoch_ms, text_id
from trackwell.store.base import OutcomeReport

SOURCE_PREFIX = "webhook:"


def _time_ms(value: Any, fallback_ms: int) -> int:
    """Unix seconds, or an ISO-8601 time with an offset (without one: the arrival time)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return fallback_ms
        if parsed.tzinfo is None:
            return fallback_ms
        return int(parsed.timestamp() * 1000)
    return epoch_ms(value, fallback_ms)


def report_of(source: str, document: Any, now_ms: int) -> OutcomeReport:
    """One outcome object of `source` as a report."""
    body = document if isinstance(document, dict) else {"value": document}
    email = text_id(body.get("email"))
    return OutcomeReport(
        source=SOURCE_PREFIX + source,
        event_id=text_id(body.get("event_id")) or body_id(body),
        object_type=text_id(body.get("object_type")) or "",
        metric=text_id(body.get("metric")) or "",
        at_ms=_time_ms(body.get("timestamp"), now_ms),
        received_ms=now_ms,
        customer_id=text_id(body.get("user_id")),
        anonymous_id=text_id(body.get("anonymous_id")),
        email=normalise_email(email) if email and "@" in email else None,
        campaign_id=text_id(body.get("campaign_id")),
        broadcast_id=text_id(body.get("broadcast_id")),
        action_id=text_id(body.get("action_id")),
        delivery_id=text_id(body.get("delivery_id")),
        trigger_message_id=text_id(body.get("message_id")),
        body=body,
    )


def reports_of(source: str, document: Any, now_ms: int) -> list[OutcomeReport]:
    """The reports of a request body: one object, or an array of them."""
    items = document if isinstance(document, list) else [document]
    return [report_of(source, item, now_ms) for item in items]
