"""Customer.io's reporting webhooks read into outcome reports.

The shape (https://customer.io/docs/api/webhooks/#operation/reportingWebhook): one JSON object a
request, `{"event_id", "object_type", "metric", "timestamp", "data": {...}}`; `timestamp` is Unix
seconds; `object_type` is `email`, `push`, `in_app`, `sms`, `slack`, `webhook` or `customer`, and
`metric` one of `sent`, `delivered`, `opened`, `clicked`, `converted`, `bounced`, `dropped`,
`failed`, `spammed`, `unsubscribed`, `undeliverable`, `attempted`, `subscribed`, ... `data`
names the person (`customer_id`, and `identifiers` with `id`, `email`, `cio_id`), the campaign or
broadcast (`campaign_id`, `broadcast_id`, `journey_id`, `action_id`), the message (`delivery_id`)
and the event that triggered the journey (`trigger_event_id`: the id trackwell sent the event
under, see `core.ids.event_ulid`).

Nothing is refused for what it says: Customer.io adds metrics and fields over time, and a report
refused here would be retried for seven days while it holds back every later one. An object type
or metric not listed is kept as sent; a missing `event_id` becomes the body's hash (a retry sends
the same body, so it is still stored once); a missing or odd `timestamp` becomes the arrival time.
The body is kept whole in the report. An array of such objects is taken too (one request, one
transaction), although Customer.io sends one at a time.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import orjson

from trackwell.core.privacy import normalise_email
from trackwell.store.base import OutcomeReport

SOURCE: Final = "customerio"
# Ids are kept up to this length (a report's own fields; the body keeps everything).
MAX_ID_LENGTH: Final = 512
# Unix seconds past this are milliseconds (the year 5138 in seconds).
MAX_SECONDS: Final = 100_000_000_000


def text_id(value: Any) -> str | None:
    """An id as text: strings and whole numbers (Customer.io sends campaign ids as numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_ID_LENGTH]
    return None


def epoch_ms(value: Any, fallback_ms: int) -> int:
    """A Unix time in seconds (or milliseconds, when it can only be those) as milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return fallback_ms
    if value >= MAX_SECONDS:
        return int(value)
    return int(value * 1000)


def body_id(document: Any) -> str:
    """A stable id for a report that came without one: the hash of what it says."""
    digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return "sha256:" + digest


def report_of(document: Any, now_ms: int) -> OutcomeReport:
    """One reporting-webhook object as an outcome report (never refused; see the module)."""
    body = document if isinstance(document, dict) else {"value": document}
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    identifiers = data.get("identifiers")
    identifiers = identifiers if isinstance(identifiers, dict) else {}
    email = text_id(identifiers.get("email")) or text_id(data.get("email_address"))
    return OutcomeReport(
        source=SOURCE,
        event_id=text_id(body.get("event_id")) or body_id(body),
        object_type=text_id(body.get("object_type")) or "",
        metric=text_id(body.get("metric")) or "",
        at_ms=epoch_ms(body.get("timestamp"), now_ms),
        received_ms=now_ms,
        customer_id=text_id(identifiers.get("id")) or text_id(data.get("customer_id")),
        email=normalise_email(email) if email and "@" in email else None,
        cio_id=text_id(identifiers.get("cio_id")),
        campaign_id=text_id(data.get("campaign_id")),
        broadcast_id=text_id(data.get("broadcast_id")),
        journey_id=text_id(data.get("journey_id")),
        action_id=text_id(data.get("action_id")),
        delivery_id=text_id(data.get("delivery_id")),
        trigger_event_id=text_id(data.get("trigger_event_id")),
        body=body,
    )


def reports_of(document: Any, now_ms: int) -> list[OutcomeReport]:
    """The reports of a request body: one object, or an array of them."""
    if isinstance(document, list):
        return [report_of(item, now_ms) for item in document]
    return [report_of(document, now_ms)]
