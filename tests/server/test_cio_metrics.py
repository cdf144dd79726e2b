"""Customer.io delivery metrics through the gateway: v1 `/api/v1/metrics` and `/api/v1/push/events`
and the v2 `delivery` operation are stored as the `Report Delivery Event` operation, named by the
delivery (no person), never blocked and never plan-checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trackwell.core.operations import DELIVERY_METRIC
from trackwell.store.base import TimelineEntry

from .conftest import BROWSER_KEY, SERVER_KEY, Harness, harness

pytestmark = pytest.mark.anyio

CIO = ("backend", SERVER_KEY)
# An APNs-shaped token: 64 hex digits, as Customer.io's push notifications carry it.
TOKEN = "f3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"


def metrics_of(h: Harness, delivery_id: str) -> list[TimelineEntry]:
    return [
        e
        for e in h.store.timeline(f"cio_delivery:{delivery_id}").entries
        if e.message.get("event") == DELIVERY_METRIC
    ]


async def accepted(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["X-Trackwell-Blocked"] == "0"
    body: dict[str, Any] = response.json()
    assert body["blocked"] == 0 and body["violations"] == [], body
    return body


async def test_v1_metrics_of_every_channel_are_accepted_with_their_fields(tmp_path: Path) -> None:
    clicked = {"delivery_id": "dlv-email-1", "metric": "clicked", "timestamp": 1767600400,
               "recipient": "ada@example.com", "href": "https://example.com/pricing"}  # fmt: skip
    bounced = {"delivery_id": "dlv-sms-1", "metric": "bounced", "recipient": "+15555550100",
               "reason": "unreachable"}  # fmt: skip
    async with harness(tmp_path) as h:
        await accepted(await h.client.post("/api/v1/metrics", json=clicked, auth=CIO))
        await accepted(await h.client.post("/api/v1/metrics", json=bounced, auth=CIO))
        [entry] = metrics_of(h, "dlv-email-1")
        assert entry.verdict == "accepted"
        message = entry.message
        assert message["properties"] == {"deliveryId": "dlv-email-1", "metric": "clicked",
                                         "recipient": "ada@example.com",
                                         "href": "https://example.com/pricing"}  # fmt: skip
        assert message["timestamp"].startswith("2026-01-05T08:06:40")
        assert "userId" not in message
        [sms] = metrics_of(h, "dlv-sms-1")
        assert sms.message["properties"]["reason"] == "unreachable"
        # About a message, not a person: no profile is made for the delivery.
        assert h.store.profile("cio_delivery:dlv-email-1") is None
        assert h.store.count_blocked() == 0


async def test_v1_push_events_keep_the_device_token_intact(tmp_path: Path) -> None:
    push = {"delivery_id": "dlv-push-1", "event": "opened", "device_id": TOKEN,
            "timestamp": 1767600500}  # fmt: skip
    async with harness(tmp_path) as h:
        await accepted(await h.client.post("/api/v1/push/events", json=push, auth=CIO))
        [entry] = metrics_of(h, "dlv-push-1")
        assert entry.message["properties"] == {
            "deliveryId": "dlv-push-1",
            "metric": "opened",
            "recipient": TOKEN,
        }
        assert entry.message["context"]["device"] == {"token": TOKEN}
        assert entry.violations == []


async def test_v2_delivery_operations_in_batch_and_entity(tmp_path: Path) -> None:
    def op(delivery_id: str, name: str) -> dict[str, Any]:
        return {"type": "delivery", "action": "event", "identifiers": {"id": delivery_id},
                "name": name, "attributes": {"device_token": TOKEN}}  # fmt: skip

    async with harness(tmp_path) as h:
        batch = {"batch": [op("dlv-v2-1", "delivered"), op("dlv-v2-1", "opened")]}
        body = await accepted(await h.client.post("/api/v2/batch", json=batch, auth=CIO))
        assert body["accepted"] == 2
        await accepted(await h.client.post("/api/v2/entity", json=op("dlv-v2-2", "converted"),
                                           auth=CIO))  # fmt: skip
        metrics = [e.message["properties"]["metric"] for e in metrics_of(h, "dlv-v2-1")]
        assert metrics == ["delivered", "opened"]
        [converted] = metrics_of(h, "dlv-v2-2")
        assert converted.message["context"]["device"]["token"] == TOKEN
        assert h.store.count_blocked() == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/metrics", {"metric": "opened"}, "delivery_id"),
        ("/api/v1/metrics", {"delivery_id": "d-1"}, "metric"),
        ("/api/v1/push/events", {"delivery_id": "d-1", "device_id": TOKEN}, "event"),
        ("/api/v1/push/events", {"delivery_id": "d-1", "event": "opened", "device_id": 7},
         "device_id"),
        ("/api/v2/entity", {"type": "delivery", "action": "event", "name": "opened"},
         "identifiers.id"),
        ("/api/v2/entity", {"type": "delivery", "action": "identify",
                            "identifiers": {"id": "d-1"}, "name": "opened"}, "action"),
    ],
)  # fmt: skip
async def test_a_metric_without_what_it_needs_is_refused_naming_the_field(
    tmp_path: Path, path: str, body: dict[str, Any], field: str
) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.post(path, json=body, auth=CIO)
        assert response.status_code == 400, response.text
        assert response.json()["field"] == field


async def test_metric_routes_need_the_source_credentials(tmp_path: Path) -> None:
    metric = {"delivery_id": "d-1", "metric": "opened"}
    async with harness(tmp_path) as h:
        for path in ("/api/v1/metrics", "/api/v1/push/events"):
            assert (await h.client.post(path, json=metric)).status_code == 401
            wrong = await h.client.post(path, json=metric, auth=("backend", "tw_nope"))
            assert wrong.status_code == 401


async def test_a_metric_passes_strict_mode_as_it_is_never_plan_checked(tmp_path: Path) -> None:
    # A metric is never plan-checked, so even strict mode accepts it.
    metric = {"delivery_id": "d-strict", "metric": "delivered", "recipient": "ada@example.com"}
    async with harness(tmp_path) as h:
        headers = {"X-Strict-Mode": "true"}
        response = await h.client.post("/api/v1/metrics", json=metric, auth=CIO, headers=headers)
        await accepted(response)


async def test_a_browser_key_may_report_a_delivery_metric_but_not_an_operation_on_a_person(
    tmp_path: Path,
) -> None:
    """Customer.io takes metrics without credentials (the delivery id is the reference), and an
    in-app message reports its metrics from the browser: a metric is not about a person."""
    metric = {"type": "track", "anonymousId": "cio_delivery:dlv-inapp-1", "event": DELIVERY_METRIC,
              "properties": {"deliveryId": "dlv-inapp-1", "metric": "clicked",
                             "actionValue": "https://example.com/upgrade"}}  # fmt: skip
    async with harness(tmp_path) as h:
        await accepted(await h.client.post("/v1/track", json=metric, auth=(BROWSER_KEY, "")))
        [entry] = metrics_of(h, "dlv-inapp-1")
        assert entry.verdict == "accepted"
        deleted = {**metric, "event": "User Deleted"}
        refused = await h.client.post("/v1/track", json=deleted, auth=(BROWSER_KEY, ""))
        assert refused.status_code == 403
