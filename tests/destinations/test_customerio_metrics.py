"""Delivery metrics (`Report Delivery Event`) to Customer.io as its own metric calls, checked
against the documented shapes and the fake; which other destinations take them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tests.destinations.helpers import ACTION_SECONDS, kinds, wire
from tests.fakes import FakeCustomerIO, FakeSegment
from tests.fakes.customerio import V2, V2_SHAPES, check_v1_shape
from tests.fakes.schema import violation
from tests.fakes.server import Received
from trackwell.core.operations import DELIVERY_METRIC
from trackwell.destinations import (
    Amplitude,
    CaptureTransport,
    CustomerIO,
    Mixpanel,
    SegmentCompatible,
    Webhook,
)
from trackwell.destinations.customerio_metrics import V2_MAX_AGE_SECONDS, v2_delivery

TOKEN = "f3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
Closing = Callable[[Any], Any]


def metric(
    delivery_id: str,
    name: str,
    *,
    push: bool = False,
    timestamp: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    """A stored `Report Delivery Event`, as the gateway makes it (a push one names its device)."""
    fields: dict[str, Any] = {"anonymousId": f"cio_delivery:{delivery_id}"}
    if timestamp is not None:
        fields["timestamp"] = timestamp
    if push:
        properties.setdefault("recipient", TOKEN)
        fields["context"] = {"device": {"token": TOKEN}}
    properties = {"deliveryId": delivery_id, "metric": name, **properties}
    return wire("track", event=DELIVERY_METRIC, properties=properties, **fields)


def now_iso(offset_seconds: float = 0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return moment.isoformat().replace("+00:00", "Z")


def customerio(fake: FakeCustomerIO, mode: str, closing: Closing) -> CustomerIO:
    destination = CustomerIO(
        site_id=fake.site_id,
        api_key=fake.api_key,
        base_url=fake.url,
        mode=mode,  # type: ignore[arg-type]
    )
    closed: CustomerIO = closing(destination)
    return closed


def test_v1_reports_every_metric_to_the_metrics_api(
    customerio_fake: FakeCustomerIO, closing: Closing
) -> None:
    fake = customerio_fake
    messages = [
        metric("dlv-1", "clicked", recipient="ada@example.com", href="https://example.com/p"),
        metric("dlv-2", "bounced", recipient="+15555550100", reason="unreachable"),
        metric("dlv-3", "opened", push=True),
    ]
    assert kinds(customerio(fake, "v1", closing).deliver(messages)) == ["delivered"] * 3
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/api/v1/metrics")] * 3
    assert fake.metrics == [
        {"delivery_id": "dlv-1", "metric": "clicked", "timestamp": ACTION_SECONDS,
         "recipient": "ada@example.com", "href": "https://example.com/p", "api": "v1"},
        {"delivery_id": "dlv-2", "metric": "bounced", "timestamp": ACTION_SECONDS,
         "recipient": "+15555550100", "reason": "unreachable", "api": "v1"},
        {"delivery_id": "dlv-3", "metric": "opened", "timestamp": ACTION_SECONDS,
         "recipient": TOKEN, "api": "v1"},
    ]  # fmt: skip


def test_v2_batches_a_fresh_push_metric_and_sends_the_rest_to_the_metrics_api(
    customerio_fake: FakeCustomerIO, closing: Closing
) -> None:
    fake = customerio_fake
    fresh = metric("dlv-4", "delivered", push=True, timestamp=now_iso(-2))
    late = metric("dlv-5", "opened", push=True)  # stamped 2024: its time must travel with it
    clicked = metric("dlv-6", "clicked", recipient="ada@example.com", timestamp=now_iso())
    outcomes = customerio(fake, "v2", closing).deliver([fresh, late, clicked])
    assert kinds(outcomes) == ["delivered"] * 3, outcomes
    batch = [r for r in fake.requests if r.path == "/api/v2/batch"]
    assert [r.json() for r in batch] == [
        {"batch": [{"type": "delivery", "action": "event", "identifiers": {"id": "dlv-4"},
                    "name": "delivered", "attributes": {"device_token": TOKEN}}]}
    ]  # fmt: skip
    by_id = {m["delivery_id"]: m for m in fake.metrics}
    assert by_id["dlv-4"] == {"delivery_id": "dlv-4", "metric": "delivered",
                              "device_token": TOKEN, "api": "v2"}  # fmt: skip
    assert by_id["dlv-5"]["api"] == "v1" and by_id["dlv-5"]["timestamp"] == ACTION_SECONDS
    assert by_id["dlv-6"]["api"] == "v1" and by_id["dlv-6"]["recipient"] == "ada@example.com"


def test_the_v2_delivery_form_only_when_it_loses_nothing() -> None:
    now = datetime.fromtimestamp(ACTION_SECONDS, UTC)
    push = metric("d", "opened", push=True)
    assert v2_delivery(push, now) is not None
    assert v2_delivery(push, now + timedelta(seconds=V2_MAX_AGE_SECONDS + 1)) is None
    assert v2_delivery(metric("d", "clicked", push=True), now) is None  # not a v2 metric
    assert v2_delivery(metric("d", "opened", recipient="ada@example.com"), now) is None
    assert v2_delivery(metric("d", "delivered", push=True, reason="late"), now) is None


def test_what_the_metrics_api_cannot_take_is_dead_with_the_reason() -> None:
    capture = CaptureTransport()
    for mode in ("v1", "v2"):
        cio = CustomerIO(mode=mode, transport=capture)
        unknown = metric("dlv-7", "viewed")
        no_id = metric("dlv-8", "opened")
        del no_id["properties"]["deliveryId"]
        outcomes = cio.deliver([unknown, no_id])
        assert kinds(outcomes) == ["dead", "dead"]
        assert "no metric 'viewed'" in (outcomes[0].error or "")
        assert "properties.deliveryId" in (outcomes[1].error or "")
    assert capture.requests == []


def test_metric_requests_fit_the_track_api_reference() -> None:
    messages = [
        metric("dlv-a", "clicked", recipient="ada@example.com", href="https://example.com/"),
        metric("dlv-b", "dropped", reason="suppressed"),
        metric("dlv-c", "converted", push=True, timestamp=now_iso()),
        metric("dlv-d", "delivered", push=True),
        metric("dlv-e", "spammed", recipient="ada@example.com", actionValue="ignored"),
    ]
    seen = set()
    for mode in ("v1", "v2"):
        capture = CaptureTransport()
        cio = CustomerIO(mode=mode, transport=capture)
        assert kinds(cio.deliver(messages)) == ["captured"] * len(messages)
        for request in capture.requests:
            path = urlsplit(request.url).path
            if path == "/api/v2/batch":
                for op in json.loads(request.body)["batch"]:
                    shape = V2_SHAPES[(op["type"], op["action"])]
                    assert violation(V2, shape, op) is None, op
                    seen.add((mode, op["type"]))
            else:
                received = Received(request.method, path, {}, dict(request.headers), request.body)
                assert path == "/api/v1/metrics"
                assert check_v1_shape(received) is None, request.body
                seen.add((mode, path))
    assert seen == {("v1", "/api/v1/metrics"), ("v2", "/api/v1/metrics"), ("v2", "delivery")}


def test_the_fake_refuses_a_metric_that_is_not_documented(
    customerio_fake: FakeCustomerIO,
) -> None:
    import httpx

    auth = (customerio_fake.site_id, customerio_fake.api_key)
    with httpx.Client(base_url=customerio_fake.url, auth=auth, trust_env=False) as client:
        wrong = client.post("/api/v1/metrics", json={"delivery_id": "d", "metric": "viewed"})
        assert wrong.status_code == 400 and "metric" in wrong.text
        extra = client.post("/api/v1/metrics", json={"delivery_id": "d", "metric": "opened",
                                                     "device_token": TOKEN})  # fmt: skip
        assert extra.status_code == 400
        timed = {"type": "delivery", "action": "event", "identifiers": {"id": "d"},
                 "name": "opened", "attributes": {"device_token": TOKEN}, "timestamp": 1}  # fmt: skip
        answer = client.post("/api/v2/batch", json={"batch": [timed]})
        assert answer.status_code == 207 and answer.json()["errors"][0]["batch_index"] == 0
    assert customerio_fake.metrics == []


def test_other_destinations_take_metrics_as_they_are_or_not_at_all(
    segment_fake: FakeSegment, closing: Closing
) -> None:
    capture = CaptureTransport()
    push = metric("dlv-9", "opened", push=True)
    for tool in (Mixpanel(transport=capture), Amplitude(transport=capture)):
        assert DELIVERY_METRIC in tool.filter.exclude_events
        [outcome] = tool.deliver([push])
        assert outcome.kind == "dead" and DELIVERY_METRIC in (outcome.error or "")
    for mode in ("v1", "v2"):
        cio = CustomerIO(mode=mode, transport=capture)
        assert cio.filter.accepts("track", DELIVERY_METRIC)
    # A Segment-compatible endpoint takes operations where it performs them (Data Pipelines'
    # hosts, or `operations = true`), the metric as it is.
    default = SegmentCompatible(write_key="wk", base_url="https://api.segment.io")
    assert not default.filter.accepts("track", DELIVERY_METRIC)
    segment = closing(
        SegmentCompatible(
            write_key=segment_fake.write_key, base_url=segment_fake.url, operations=True
        )
    )
    assert segment.filter.accepts("track", DELIVERY_METRIC)
    assert kinds(segment.deliver([push])) == ["delivered"]
    [sent] = segment_fake.messages
    assert sent["event"] == DELIVERY_METRIC and sent["anonymousId"] == "cio_delivery:dlv-9"
    assert sent["properties"] == push["properties"]
    assert sent["context"]["device"]["token"] == TOKEN
    webhook = Webhook(url="https://hooks.example.com/in", secret="s" * 32, transport=capture)
    assert webhook.filter.accepts("track", DELIVERY_METRIC)
