"""Segment-compatible `/v1/batch`: forwarding, strict mode, auth, limits, finding a bad message."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from tests.destinations.helpers import (
    ACTION_TIME,
    alias,
    group,
    identify,
    kinds,
    page,
    screen,
    track,
)
from tests.fakes import FakeSegment
from trackwell.destinations import CaptureTransport, SegmentCompatible

Closing = Callable[[SegmentCompatible], SegmentCompatible]


def connected(fake: FakeSegment, closing: Closing, **settings: object) -> SegmentCompatible:
    return closing(SegmentCompatible(write_key=fake.write_key, base_url=fake.url, **settings))  # type: ignore[arg-type]


def test_request_shape() -> None:
    transport = CaptureTransport()
    destination = SegmentCompatible(write_key="wk-9", transport=transport)
    destination.deliver([track(sentAt="2024-05-01T12:00:09Z", originalTimestamp=ACTION_TIME)])
    (request,) = transport.requests
    assert (request.method, request.url) == ("POST", "https://api.segment.io/v1/batch")
    assert request.headers["x-strict-mode"] == "1"  # errors come back as real status codes
    assert base64.b64decode(request.headers["authorization"][6:]) == b"wk-9:"
    sent = json.loads(request.body)
    assert set(sent) == {"batch", "sentAt"}
    (message,) = sent["batch"]
    assert message["timestamp"] == ACTION_TIME
    # Per-hop times stay behind: the next hop must not correct the clock a second time.
    assert not {"sentAt", "receivedAt", "originalTimestamp"} & set(message)
    assert message["context"] == {} and message["integrations"] == {}


def test_every_call_type_is_accepted_once(segment_fake: FakeSegment, closing: Closing) -> None:
    destination = connected(segment_fake, closing)
    messages = [identify(), track(), page(), screen(), group(), alias()]
    assert set(kinds(destination.deliver(messages))) == {"delivered"}
    assert set(kinds(destination.deliver(messages))) == {"delivered"}
    assert [m["type"] for m in segment_fake.messages] == [m["type"] for m in messages]
    assert segment_fake.duplicates == len(messages)


def test_a_bad_message_is_found_by_halving(segment_fake: FakeSegment, closing: Closing) -> None:
    destination = connected(segment_fake, closing)
    messages = [track() for _ in range(8)]
    del messages[5]["userId"]  # neither userId nor anonymousId
    outcomes = destination.deliver(messages)
    assert kinds(outcomes) == ["delivered"] * 5 + ["dead"] + ["delivered"] * 2
    assert "userId or anonymousId is required" in (outcomes[5].error or "")
    assert len(segment_fake.messages) == 7


def test_bad_write_key_is_dead(segment_fake: FakeSegment, closing: Closing) -> None:
    destination = closing(SegmentCompatible(write_key="nope", base_url=segment_fake.url))
    outcomes = destination.deliver([track(), track()])
    assert kinds(outcomes) == ["dead", "dead"]
    assert "invalid write key" in (outcomes[0].error or "")


def test_oversize_messages_are_dead_and_batches_split_by_bytes(
    segment_fake: FakeSegment, closing: Closing
) -> None:
    destination = connected(segment_fake, closing)
    huge = track(properties={"blob": "x" * 33_000})
    big = [track(properties={"blob": "x" * 30_000}) for _ in range(20)]
    outcomes = destination.deliver([huge, *big])
    assert outcomes[0].kind == "dead" and "the limit is 32,768" in (outcomes[0].error or "")
    assert set(kinds(outcomes[1:])) == {"delivered"}
    assert len(segment_fake.requests) == 2  # 600 KB of messages in two batches under 475,000
    assert len(segment_fake.messages) == 20


@pytest.mark.parametrize("batch_size", [1, 3])
def test_batch_size(segment_fake: FakeSegment, closing: Closing, batch_size: int) -> None:
    destination = connected(segment_fake, closing, batch_size=batch_size)
    destination.deliver([track() for _ in range(6)])
    assert len(segment_fake.requests) == 6 // batch_size


def test_a_clients_write_key_in_a_message_is_not_forwarded() -> None:
    # A browser library may put trackwell's source key in each event; it is not the next hop's.
    transport = CaptureTransport()
    destination = SegmentCompatible(write_key="wk-9", transport=transport)
    destination.deliver([track(writeKey="tw_source_key")])
    (request,) = transport.requests
    assert b"tw_source_key" not in request.body
