"""The official `segment-analytics-python` library and trackwell, against the same fake `/v1/batch`.

The fake must accept every call the library makes, and trackwell's batches for the same calls
must have the same shape: same path, same body keys, same message keys and value types, and the
same instants. If trackwell's Segment wire format drifts, this fails."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import segment.analytics.request as segment_request
from segment.analytics import Client
from segment.analytics.version import VERSION

from tests.destinations.helpers import alias, group, identify, page, screen, track, wire
from tests.fakes import FakeSegment
from trackwell.core.messages import parse_time
from trackwell.destinations import SegmentCompatible

ACTION = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
CONTEXT = {"library": {"name": "trackwell-python", "version": "0.1.0"}, "ip": "203.0.113.9"}
TRAITS = {"email": "ada@example.com", "plan": "pro"}
PROPERTIES = {"project_id": "p-1", "seats": 3}


@pytest.fixture
def official(segment_fake: FakeSegment) -> Iterator[Client]:
    """Segment's Python client in synchronous mode (no consumer thread), pointed at the fake."""
    client = Client(write_key=segment_fake.write_key, host=segment_fake.url, sync_mode=True)
    yield client
    segment_request._session.close()  # the library's module-wide pool


@pytest.fixture
def ours(
    segment_fake: FakeSegment, closing: Callable[[SegmentCompatible], SegmentCompatible]
) -> SegmentCompatible:
    """trackwell's SegmentCompatible pointed at the same fake."""
    return closing(SegmentCompatible(write_key=segment_fake.write_key, base_url=segment_fake.url))


def shape(value: Any) -> Any:
    """Keys and value types, recursively; null values are left out (the library sends unset
    fields as null, trackwell leaves them out, and both mean absent in the Segment spec)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def _common(message_id: str) -> dict[str, Any]:
    return {"message_id": message_id, "timestamp": ACTION, "context": dict(CONTEXT)}


CALLS: dict[str, tuple[Callable[[Client, str], Any], Callable[[str], dict[str, Any]]]] = {
    "identify": (
        lambda c, mid: c.identify("user-0001", TRAITS, anonymous_id="anon-77", **_common(mid)),
        lambda mid: identify(traits=TRAITS, anonymousId="anon-77", messageId=mid),
    ),
    "track": (
        lambda c, mid: c.track("user-0001", "Project Created", PROPERTIES, **_common(mid)),
        lambda mid: track(properties=PROPERTIES, messageId=mid),
    ),
    "anonymous track": (
        lambda c, mid: c.track(
            None, "Project Created", PROPERTIES, anonymous_id="anon-77", **_common(mid)
        ),
        lambda mid: track(
            user_id=None, anonymousId="anon-77", properties=PROPERTIES, messageId=mid
        ),
    ),
    "page": (
        lambda c, mid: c.page(
            "user-0001", "Docs", "Pricing", {"url": "https://example.com/pricing"}, **_common(mid)
        ),
        lambda mid: page(
            properties={"url": "https://example.com/pricing"}, category="Docs", messageId=mid
        ),
    ),
    "screen": (
        lambda c, mid: c.screen("user-0001", None, "Settings", {"tab": "billing"}, **_common(mid)),
        lambda mid: screen(properties={"tab": "billing"}, messageId=mid),
    ),
    "group": (
        lambda c, mid: c.group("user-0001", "acme-01", {"name": "Acme"}, **_common(mid)),
        lambda mid: group(traits={"name": "Acme"}, messageId=mid),
    ),
    "alias": (
        lambda c, mid: c.alias("old-0001", "user-0001", **_common(mid)),
        lambda mid: alias(messageId=mid),
    ),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_same_shape_as_the_official_library(
    call: str, official: Client, ours: SegmentCompatible, segment_fake: FakeSegment
) -> None:
    library_call, stored = CALLS[call]
    library_call(official, "lib-0001")
    message = stored("tw-0001")
    message["context"] = dict(CONTEXT)
    assert [o.kind for o in ours.deliver([message])] == ["delivered"]

    # Both were accepted, once each.
    assert [m["messageId"] for m in segment_fake.messages] == ["lib-0001", "tw-0001"]
    theirs_request, mine_request = segment_fake.requests
    assert (mine_request.method, mine_request.path) == (theirs_request.method, theirs_request.path)
    for request in (theirs_request, mine_request):
        user = base64.b64decode(request.headers["authorization"].removeprefix("Basic "))
        assert user == f"{segment_fake.write_key}:".encode()

    theirs, mine = theirs_request.json(), mine_request.json()
    # The library also repeats the write key in the body; trackwell sends it only as Basic auth.
    assert set(mine) == set(theirs) - {"writeKey"} == {"batch", "sentAt"}
    (their_message,) = theirs["batch"]
    (my_message,) = mine["batch"]
    # Each names its own sender in context.library; the rest of the context is the caller's.
    assert their_message["context"].pop("library") == {
        "name": "analytics-python",
        "version": VERSION,
    }
    assert my_message["context"].pop("library") == CONTEXT["library"]
    assert shape(my_message) == shape(their_message)
    assert (
        parse_time(my_message["timestamp"], "")
        == parse_time(their_message["timestamp"], "")
        == ACTION
    )


def test_the_library_without_strict_mode_gets_200_even_for_a_bad_key(
    segment_fake: FakeSegment,
) -> None:
    client = Client(write_key="wrong", host=segment_fake.url, sync_mode=True)
    client.track("user-0001", "Project Created", message_id="lib-bad", timestamp=ACTION)
    segment_request._session.close()
    assert segment_fake.messages == []  # Segment's documented default: silently dropped


def test_a_stored_message_with_extra_fields_still_matches(
    ours: SegmentCompatible, segment_fake: FakeSegment
) -> None:
    message = wire(
        "track", event="Project Created", userId="user-0001", properties={}, channel="server"
    )
    assert [o.kind for o in ours.deliver([message])] == ["delivered"]
    assert segment_fake.messages[0]["channel"] == "server"  # unknown top-level fields ride along
