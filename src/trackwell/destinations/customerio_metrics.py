"""Customer.io delivery metrics (`Report Delivery Event`) as the Track API's own metric calls.

Request shapes: Customer.io's Track API reference (the OpenAPI document behind
docs.customer.io/integrations/api/track): v1 `POST /api/v1/metrics` (operationId `metrics`:
`delivery_id` and `metric` required; `timestamp`, `recipient`, `reason`, `href`), and the v2
`delivery` operation of `/api/v2/batch` (schema `delivery_operations`: `identifiers.id`, `name`
one of opened, converted, delivered, and `attributes.device_token` required; no time field).
Message properties are Data Pipelines' names (`deliveryId`, `metric`, `recipient`, ...), which
Segment's Customer.io destination also maps onto `/api/v1/metrics`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trackwell.core.messages import WireMessage
from trackwell.destinations.common import (
    UnsendableError,
    action_time,
    epoch_seconds,
    json_bytes,
)

# The metrics `/api/v1/metrics` documents, over all channels (email, push, in-app, SMS, Slack,
# webhook).
V1_METRICS = frozenset(
    ["bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"]
)
# The metrics the v2 `delivery` operation documents: device-side push metrics.
V2_METRICS = frozenset(["opened", "converted", "delivered"])
# The v2 operation has no time field, so Customer.io dates it on arrival. It is used only while
# that is the action time to within this; a late metric (a retry, a backlog, a backfill) goes
# through `/api/v1/metrics`, which carries its `timestamp`.
V2_MAX_AGE_SECONDS = 60
# Optional `/api/v1/metrics` fields, all carried under the same name by Data Pipelines.
OPTIONAL_FIELDS = ("recipient", "reason", "href")


def _text(message: WireMessage, key: str) -> str:
    value = (message.get("properties") or {}).get(key)
    if not isinstance(value, str) or not value:
        raise UnsendableError(
            f"'{message.get('event')}' needs properties.{key} for Customer.io's metrics API"
        )
    return value


def _device_token(message: WireMessage) -> str | None:
    device = (message.get("context") or {}).get("device")
    token = device.get("token") if isinstance(device, dict) else None
    return token if isinstance(token, str) and token else None


def v1_metric(message: WireMessage) -> tuple[str, str, bytes]:
    """`POST /api/v1/metrics` with the metric, its delivery id, time and documented fields."""
    metric = _text(message, "metric")
    if metric not in V1_METRICS:
        raise UnsendableError(
            f"Customer.io's metrics API has no metric {metric[:40]!r}"
            f" (it takes {', '.join(sorted(V1_METRICS))})"
        )
    properties = message.get("properties") or {}
    body: dict[str, Any] = {
        "delivery_id": _text(message, "deliveryId"),
        "metric": metric,
        "timestamp": epoch_seconds(message),
    }
    for key in OPTIONAL_FIELDS:
        value = properties.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            body[key] = value
    if "recipient" not in body and (token := _device_token(message)) is not None:
        body["recipient"] = token  # a push metric: "the device ID that the message was sent to"
    return "POST", "/api/v1/metrics", json_bytes(body)


def v2_delivery(message: WireMessage, now: datetime | None = None) -> dict[str, Any] | None:
    """The v2 `delivery` operation, or None when it cannot carry everything the metric has
    (not a push metric, another metric, a reason or link, or an action time long past)."""
    properties = message.get("properties") or {}
    token = _device_token(message)
    metric = properties.get("metric")
    if (
        token is None
        or metric not in V2_METRICS
        or properties.get("reason")
        or properties.get("href")
    ):
        return None
    age = ((now or datetime.now(UTC)) - action_time(message)).total_seconds()
    if abs(age) > V2_MAX_AGE_SECONDS:
        return None
    return {
        "type": "delivery",
        "action": "event",
        "identifiers": {"id": _text(message, "deliveryId")},
        "name": metric,
        "attributes": {"device_token": token},
    }
