"""The shared pieces: ULIDs from message ids, times, auth, packing, URLs shown in describe()."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from tests.destinations.helpers import ACTION_MS, ACTION_SECONDS, track
from tests.fakes.customerio import ULID
from trackwell.destinations.common import (
    UnsendableError,
    action_time,
    basic_auth,
    epoch_ms,
    epoch_seconds,
    pack,
    public_url,
    size_of,
    to_epoch_seconds,
    ulid_from,
)
from trackwell.destinations.http import CaptureTransport, HttpRequest

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _decode_time(ulid: str) -> int:
    number = 0
    for char in ulid:
        number = number * 32 + CROCKFORD.index(char)
    return number >> 80


def test_ulid_is_deterministic_valid_and_carries_the_action_time() -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    first = ulid_from("msg-1", when)
    assert first == ulid_from("msg-1", when)  # a retry repeats the de-duplication key
    assert ULID.match(first)
    assert _decode_time(first) == ACTION_MS
    assert ulid_from("msg-2", when) != first
    assert ulid_from("msg-2", when)[:10] == first[:10]  # same time part, different randomness


def test_ulid_sorts_by_time() -> None:
    early = ulid_from("z", datetime(2020, 1, 1, tzinfo=UTC))
    late = ulid_from("a", datetime(2024, 1, 1, tzinfo=UTC))
    assert early < late


def test_epochs_come_from_the_action_time() -> None:
    message = track()
    assert epoch_seconds(message) == ACTION_SECONDS
    assert epoch_ms(message) == ACTION_MS
    without = {k: v for k, v in message.items() if k != "timestamp"}
    assert action_time(without) == datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC)  # receivedAt


def test_a_malformed_time_is_unsendable() -> None:
    with pytest.raises(UnsendableError, match="timestamp"):
        epoch_seconds(track(timestamp="yesterday"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05Z", 1704164645),
        (1704164645, 1704164645),
        (1704164645123, 1704164645),
        ("not a date", "not a date"),
        (True, True),
        (None, None),
    ],
)
def test_to_epoch_seconds(value: object, expected: object) -> None:
    assert to_epoch_seconds(value) == expected


def test_basic_auth() -> None:
    header = basic_auth("site", "key")
    assert base64.b64decode(header.removeprefix("Basic ")) == b"site:key"


def test_size_of_counts_utf8_bytes_and_json() -> None:
    assert size_of("é") == 2
    assert size_of({"a": [1, 2]}) == len(b'{"a":[1,2]}')


def test_pack_respects_count_and_bytes_in_order() -> None:
    parts = [(i, b"x" * 10) for i in range(7)]
    assert [[i for i, _ in g] for g in pack(parts, max_count=3, max_bytes=10_000)] == [
        [0, 1, 2],
        [3, 4, 5],
        [6],
    ]
    groups = pack(parts, max_count=100, max_bytes=35, overhead=2)  # 11 bytes each with a comma
    assert [len(g) for g in groups] == [3, 3, 1]
    assert pack([(0, b"x" * 100)], max_count=5, max_bytes=10) == [[(0, b"x" * 100)]]


def test_public_url_drops_credentials_paths_and_queries() -> None:
    assert public_url("https://user:pw@hooks.example.com:8443/catch/123/token?k=v") == (
        "https://hooks.example.com:8443"
    )


def test_capture_keeps_only_the_newest_requests() -> None:
    # Capture mode may run for days under `serve`; its memory must not grow with every request.
    capture = CaptureTransport(keep=3)
    requests = [HttpRequest("POST", f"https://x.example/{n}", {}, b"") for n in range(10)]
    for request in requests:
        capture.send(request, 1.0)
    assert capture.recorded == 10
    assert 3 <= len(capture.requests) <= 6
    assert capture.requests[-3:] == requests[-3:]
