"""Customer.io's reporting webhooks as the fake Customer.io sends them: what a journey did for a
person, signed as Customer.io signs it, posted to a URL (the gateway's `/webhooks/customerio`).

The shape follows https://customer.io/docs/api/webhooks/#operation/reportingWebhook: one JSON
object a call with `event_id` (a ULID), `object_type`, `metric`, `timestamp` (Unix seconds) and
`data` (`customer_id`, `identifiers` {id, email, cio_id}, `campaign_id`, `action_id`,
`delivery_id`, `trigger_event_id`: the `id` of the event that triggered the journey, i.e. the id
trackwell sent the event under). The signature
(https://customer.io/docs/api/webhooks/#section/Securely-Verifying-Requests): `X-CIO-Timestamp`
in Unix seconds and `X-CIO-Signature`, the hex HMAC-SHA256 of `v0:<timestamp>:<body>` under the
webhook signing key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from trackwell.core.ids import event_ulid

DEFAULT_REPORTING_KEY = "cio-reporting-key"


def cio_signature(key: str, timestamp: int, body: bytes) -> str:
    """Customer.io's `X-CIO-Signature` for a body sent at `timestamp`."""
    base = f"v0:{timestamp}:".encode() + body
    return hmac.new(key.encode(), base, hashlib.sha256).hexdigest()


def signed_report(
    key: str, report: dict[str, Any], timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one signed reporting-webhook call (`timestamp`: now)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    body = json.dumps(report, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-CIO-Timestamp": str(stamp),
        "X-CIO-Signature": cio_signature(key, stamp, body),
    }
    return body, headers


def cio_id_of(person: str) -> str:
    """The fake's own id of a person (Customer.io gives each profile a `cio_id`)."""
    return "cio" + hashlib.sha256(person.encode()).hexdigest()[:12]


def report_body(
    event: dict[str, Any],
    metric: str,
    *,
    person: str,
    email: str | None = None,
    object_type: str = "email",
    campaign_id: int = 1,
    action_id: int = 1,
    at: int | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A report of what the journey triggered by `event` (an event the fake accepted, with the
    `id` trackwell sent) did for `person`, at `at` (Unix seconds; default now)."""
    seconds = int(time.time()) if at is None else at
    trigger = event.get("id")
    delivery = (
        f"dlv-{hashlib.sha256(f'{trigger}:{campaign_id}:{action_id}'.encode()).hexdigest()[:16]}"
    )
    identifiers: dict[str, Any] = {"id": person, "cio_id": cio_id_of(person)}
    data: dict[str, Any] = {
        "customer_id": person,
        "identifiers": identifiers,
        "campaign_id": campaign_id,
        "action_id": action_id,
        "delivery_id": delivery,
        "trigger_event_id": trigger,
    }
    if email is not None:
        identifiers["email"] = email
        data["recipient"] = email
    return {
        # Customer.io's report ids are ULIDs; one per (delivery, metric) here.
        "event_id": event_id or event_ulid(f"{delivery}:{metric}", seconds * 1000),
        "object_type": object_type,
        "metric": metric,
        "timestamp": seconds,
        "data": data,
    }


def post_report(
    url: str, report: dict[str, Any], *, key: str, timestamp: int | None = None
) -> httpx.Response:
    """POST one signed report to `url`, as Customer.io does (4 s timeout)."""
    body, headers = signed_report(key, report, timestamp)
    return httpx.post(url, content=body, headers=headers, timeout=4.0)
