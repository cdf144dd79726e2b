"""Every request trackwell builds, for every call type, fits the provider's documented shape.

The requests are built in capture mode (nothing sent) and checked against the same schemas the
fakes use (`tests/fakes/schemas`), so a field that drifts from the reference fails here even for
a call no fake test happens to send."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.destinations.helpers import alias, group, identify, page, screen, track
from tests.destinations.test_customerio_operations import (
    TOKEN,
    device_added,
    device_deleted,
    object_deleted,
    operation,
    relationship_deleted,
)
from tests.fakes.customerio import V2, V2_SHAPES, check_v1_shape
from tests.fakes.schema import violation
from tests.fakes.server import Received
from trackwell.core.operations import USER_DELETED, USER_SUPPRESSED, USER_UNSUPPRESSED
from trackwell.destinations import (
    Amplitude,
    CaptureTransport,
    CustomerIO,
    HttpRequest,
    Mixpanel,
    SegmentCompatible,
)


def every_call() -> list[dict[str, Any]]:
    """Each call type, known and anonymous, with the ids a real installation sends."""
    return [
        identify(anonymousId="anon-77"),
        identify(user_id=None, anonymousId="anon-88", traits={"email": "ada@example.com"}),
        track(anonymousId="anon-77"),
        track(user_id=None, anonymousId="anon-77"),
        page(),
        page(user_id=None, anonymousId="anon-77"),
        screen(),
        screen(user_id=None, anonymousId="anon-77"),
        screen(user_id="cio_a3000001"),
        group(),
        group(user_id=None, anonymousId="anon-77"),
        alias(previous_id="anon-77", anonymousId="anon-77"),
        alias(previous_id="old-0001", anonymousId="anon-77"),
        alias(previous_id="old@example.com"),
        # The operations, each where a tool performs it (the filter keeps them from the others).
        operation(USER_DELETED),
        operation(USER_SUPPRESSED),
        operation(USER_UNSUPPRESSED, "cio_a3000001"),
        device_added(),
        device_deleted(),
        relationship_deleted(),
        object_deleted(),
    ]


def built(destination: Any) -> list[HttpRequest]:
    transport = CaptureTransport()
    destination.transport = transport
    messages = [m for m in every_call() if destination.filter.accepts(m["type"], m.get("event"))]
    outcomes = destination.deliver(messages)
    # A CaptureTransport records the requests, so the honest outcome is captured, not delivered.
    assert all(outcome.kind == "captured" for outcome in outcomes), outcomes
    return transport.requests


def received(request: HttpRequest) -> Received:
    parts = urlsplit(request.url)
    return Received(request.method, parts.path, {}, dict(request.headers), request.body)


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_customerio_requests_fit_the_track_api_reference(mode: str) -> None:
    for request in built(CustomerIO(mode=mode, capture=True)):  # type: ignore[arg-type]
        path = urlsplit(request.url).path
        if path == "/api/v2/batch":
            body = json.loads(request.body)
            assert violation(V2, "batch", body) is None
            for operation in body["batch"]:
                shape = V2_SHAPES[(operation["type"], operation["action"])]
                assert violation(V2, shape, operation) is None, operation
        else:
            assert path.startswith("/api/v1/")
            assert check_v1_shape(received(request)) is None, (path, request.body)


def test_customerio_v1_routes_are_the_documented_ones() -> None:
    routes = {(r.method, urlsplit(r.url).path) for r in built(CustomerIO(mode="v1", capture=True))}
    assert routes == {
        ("PUT", "/api/v1/customers/user-0001"),
        ("PUT", "/api/v1/customers/ada%40example.com"),
        ("POST", "/api/v1/customers/user-0001/events"),
        ("POST", "/api/v1/customers/cio_a3000001/events"),
        ("POST", "/api/v1/events"),
        ("POST", "/api/v1/merge_customers"),
        ("DELETE", "/api/v1/customers/user-0001"),
        ("POST", "/api/v1/customers/user-0001/suppress"),
        ("POST", "/api/v1/customers/cio_a3000001/unsuppress"),
        ("PUT", "/api/v1/customers/user-0001/devices"),
        ("DELETE", f"/api/v1/customers/user-0001/devices/{quote(TOKEN, safe='')}"),
    }


def test_mixpanel_requests_fit_the_ingestion_reference() -> None:
    destination = Mixpanel(project_token="t", api_secret="s")
    for request in built(destination):
        body = json.loads(request.body)
        if urlsplit(request.url).path == "/engage":
            assert violation("mixpanel-ingestion", "engage", body) is None
            for update in body:
                assert violation("mixpanel-ingestion", "engage_update", update) is None
        else:
            assert violation("mixpanel-ingestion", "import", body) is None
            for event in body:
                assert violation("mixpanel-ingestion", "import_event", event) is None, event


def test_amplitude_requests_fit_the_http_v2_reference() -> None:
    for request in built(Amplitude(api_key="k", min_id_length=3)):
        body = json.loads(request.body)
        assert violation("amplitude-http-v2", "upload", body) is None
        for event in body["events"]:
            assert violation("amplitude-http-v2", "event", event) is None, event


def test_segment_requests_fit_the_tracking_api_reference() -> None:
    for request in built(SegmentCompatible(write_key="wk")):
        body = json.loads(request.body)
        assert violation("segment-tracking", "batch", body) is None
        for message in body["batch"]:
            assert violation("segment-tracking", "message", message) is None, message
