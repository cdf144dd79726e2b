"""The message model: parsing, normalisation, limits, and lossless serialisation."""

from __future__ import annotations

import pickle
import uuid
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from trackwell.core.ids import new_message_id
from trackwell.core.messages import (
    MAX_MESSAGE_BYTES,
    Message,
    MessageError,
    check_limits,
    encode,
    from_json,
    from_python,
    normalise,
    parse_time,
    to_json,
)
from trackwell.core.violations import Violation
from trackwell.store.base import Checked

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


def track(**fields: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u1", "event": "Trial Started", **fields}


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-29T10:00:00Z",
        "2026-11-29T12:00:00+02:00",
        "2026-11-29T10:00:00.000Z",
        1795946400,
        1795946400000,
        "1795946400",
        1795946400.0,
    ],
)
def test_timestamps_become_utc(value: Any) -> None:
    assert parse_time(value, "timestamp") == T0


def test_seconds_and_milliseconds_are_told_apart_by_magnitude() -> None:
    # 1e11 seconds would be the year 5138; 1e11 milliseconds is 1973.
    assert parse_time(99_999_999_999, "t").year == 5138
    assert parse_time(100_000_000_000, "t").year == 1973


@pytest.mark.parametrize(
    "value",
    [
        "yesterday", True, -5, float("inf"), 10**15, [1], "-inf", "nan", "1e400",
        "0001-01-01T00:00:05+00:04",  # before the first UTC instant a datetime can hold
        "9999-12-31T23:59:59-01:00",  # after the last
    ],
)  # fmt: skip
def test_bad_timestamps(value: Any) -> None:
    with pytest.raises(MessageError) as info:
        parse_time(value, "timestamp")
    assert info.value.code == "malformed" and info.value.path == "timestamp"


def test_clock_skew_is_corrected_from_sent_at() -> None:
    # The client clock is 3 hours ahead: it says it sent at 13:00 an event from 12:59.
    message = from_json(track(timestamp="2026-11-29T12:59:00Z", sentAt="2026-11-29T13:00:00Z"))
    normalise(message, received_at=T0)
    assert message.timestamp == T0 - timedelta(minutes=1)
    assert message.original_timestamp == datetime(2026, 11, 29, 12, 59, tzinfo=UTC)
    assert not message.timestamp_missing


def test_original_timestamp_is_the_action_time_when_timestamp_is_missing() -> None:
    # RudderStack's SDKs stamp the call time as originalTimestamp and send no timestamp.
    data = track(originalTimestamp="2026-11-29T09:58:00.250Z")
    message = normalise(from_json(data), received_at=T0)
    assert message.timestamp == datetime(2026, 11, 29, 9, 58, 0, 250000, tzinfo=UTC)
    assert not message.timestamp_missing
    wire = to_json(message)
    assert wire["originalTimestamp"] == "2026-11-29T09:58:00.250Z"  # kept as sent
    assert wire["timestamp"] == "2026-11-29T09:58:00.250Z"


def test_original_timestamp_is_corrected_for_clock_skew_from_sent_at() -> None:
    # The client clock is 3 hours ahead: called at "12:59", sent at "13:00", received at 10:00.
    data = track(originalTimestamp="2026-11-29T12:59:00Z", sentAt="2026-11-29T13:00:00Z")
    message = normalise(from_json(data), received_at=T0)
    assert message.timestamp == T0 - timedelta(minutes=1)  # receivedAt - (sentAt - original)
    assert message.original_timestamp == datetime(2026, 11, 29, 12, 59, tzinfo=UTC)
    assert not message.timestamp_missing
    assert to_json(message)["originalTimestamp"] == "2026-11-29T12:59:00.000Z"


def test_timestamp_wins_over_original_timestamp_and_both_are_kept() -> None:
    data = track(
        timestamp="2026-11-29T12:50:00Z",
        originalTimestamp="2026-11-29T12:59:00Z",
        sentAt="2026-11-29T13:00:00Z",
    )
    message = normalise(from_json(data), received_at=T0)
    assert message.timestamp == T0 - timedelta(minutes=10)
    assert message.original_timestamp == datetime(2026, 11, 29, 12, 59, tzinfo=UTC)
    assert not message.timestamp_missing


def test_a_normalised_original_timestamp_message_reads_back_the_same() -> None:
    data = track(
        messageId="r-1",
        originalTimestamp="2026-11-29T09:59:59.123Z",
        sentAt="2026-11-29T10:00:00.000Z",
        channel="server",
        _metadata={"nodeVersion": "20.0.0"},
    )
    message = normalise(from_json(data), received_at=T0)
    again = from_json(to_json(message))
    assert again == message
    assert again.extra == {"channel": "server", "_metadata": {"nodeVersion": "20.0.0"}}


@pytest.mark.parametrize("value", ["yesterday", True, -5, {"at": 1}])
def test_a_bad_original_timestamp_is_an_error_naming_the_field(value: Any) -> None:
    with pytest.raises(MessageError) as info:
        from_json(track(originalTimestamp=value))
    assert info.value.code == "malformed" and info.value.path == "originalTimestamp"
    assert "originalTimestamp" in str(info.value)


def test_absurd_skew_against_original_timestamp_names_both_fields() -> None:
    data = track(originalTimestamp="0001-01-02T00:00:00Z", sentAt="9999-12-30T00:00:00Z")
    with pytest.raises(MessageError) as info:
        normalise(from_json(data), received_at=T0)
    assert info.value.code == "malformed" and info.value.path == "sentAt"
    assert "sentAt and originalTimestamp" in info.value.message


def test_an_identify_takes_its_traits_from_context_traits_when_it_has_none() -> None:
    # RudderStack's event spec (and its JavaScript and Python SDKs) put them only there.
    traits = {"email": "ada@example.com", "address": {"city": "Paris"}}
    data = {"type": "identify", "userId": "u1", "context": {"traits": traits, "ip": "1.2.3.4"}}
    message = normalise(from_json(data), received_at=T0)
    assert message.traits == traits
    assert message.context == {"traits": traits, "ip": "1.2.3.4"}  # kept as sent
    message.traits["address"]["city"] = "Lyon"
    assert message.context["traits"]["address"]["city"] == "Paris"  # a copy, not the same dict


@pytest.mark.parametrize(
    "data",
    [
        # Its own traits win (RudderStack's Node SDK sends both, the same).
        {"type": "identify", "userId": "u1", "traits": {"plan": "pro"},
         "context": {"traits": {"email": "ada@example.com"}}},
        # Not an object: nothing to take.
        {"type": "identify", "userId": "u1", "context": {"traits": "ada"}},
        # Other types keep their context as it is (analytics.js sends context.traits on tracks).
        {"type": "track", "userId": "u1", "event": "E", "context": {"traits": {"email": "a@b.co"}}},
        {"type": "group", "userId": "u1", "groupId": "g", "context": {"traits": {"email": "a@b.co"}}},
    ],
)  # fmt: skip
def test_context_traits_are_taken_only_by_an_identify_without_traits(data: Any) -> None:
    before = from_json(data)
    own = dict(before.traits)
    message = normalise(before, received_at=T0)
    assert message.traits == own


def test_missing_timestamp_becomes_received_at_and_is_flagged() -> None:
    message = normalise(from_json(track()), received_at=T0)
    assert message.timestamp == T0 and message.timestamp_missing


def test_missing_message_id_gets_a_sortable_uuid7() -> None:
    first = normalise(from_json(track()), received_at=T0).message_id
    second = normalise(from_json(track()), received_at=T0).message_id
    assert uuid.UUID(first).version == 7
    assert first < second
    ids = [new_message_id() for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_given_message_id_is_kept() -> None:
    assert normalise(from_json(track(messageId="sub-1")), received_at=T0).message_id == "sub-1"


def test_round_trip_is_lossless() -> None:
    data = {
        "type": "track",
        "messageId": "m1",
        "userId": "u1",
        "anonymousId": "a1",
        "event": "Trial Started",
        "properties": {"plan_name": "pro", "nested": {"a": [1, 2, {"b": None}]}},
        "timestamp": "2026-11-29T10:00:00.123Z",
        "sentAt": "2026-11-29T10:00:01.000Z",
        "receivedAt": "2026-11-29T10:00:02.000Z",
        "originalTimestamp": "2026-11-29T10:00:00.123Z",
        "context": {"ip": "1.2.3.4", "library": {"name": "x"}},
        "integrations": {"All": True},
        "channel": "server",
        "version": 2,
    }
    assert to_json(from_json(data)) == data
    again = from_json(to_json(from_json(data)))
    assert again == from_json(data)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ([], ""),
        ({"type": "clicked"}, "type"),
        ({"userId": "u"}, "type"),
        (track(event=""), "event"),
        (track(event=5), "event"),
        (track(userId=True), "userId"),
        (track(userId={"id": 1}), "userId"),
        (track(properties=[1, 2]), "properties"),
        (track(context="x"), "context"),
        ({"type": "group", "userId": "u"}, "groupId"),
        ({"type": "alias", "userId": "u"}, "previousId"),
        ({"type": "page", "userId": "u", "name": 3}, "name"),
    ],
)
def test_malformed_messages_name_the_field(data: Any, path: str) -> None:
    with pytest.raises(MessageError) as info:
        from_json(data)
    assert info.value.code == "malformed" and info.value.path == path


def test_numeric_ids_are_stringified_as_segment_does() -> None:
    assert from_json(track(userId=42)).user_id == "42"


def test_limits() -> None:
    with pytest.raises(MessageError) as info:
        from_json(track(), size=MAX_MESSAGE_BYTES + 1)
    assert info.value.code == "too_large" and "32 KB" in info.value.message
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(8):
        deep = {"d": deep}
    with pytest.raises(MessageError) as info:
        from_json(track(properties=deep))
    assert info.value.code == "too_deep" and info.value.path.startswith("properties.d.d")
    shallow: dict[str, Any] = {"leaf": 1}
    for _ in range(6):
        shallow = {"d": shallow}
    from_json(track(properties=shallow))  # 7 levels: fine
    with pytest.raises(MessageError) as info:
        from_json(track(properties={"k" * 256: 1}))
    assert info.value.code == "key_too_long"


def test_from_python_takes_snake_case_and_datetimes() -> None:
    message = from_python(
        {
            "type": "identify",
            "user_id": "u1",
            "traits": {"email": "a@b.co"},
            "timestamp": T0,
            "message_id": "x",
        }
    )
    assert message == Message(
        type="identify", message_id="x", user_id="u1", traits={"email": "a@b.co"}, timestamp=T0
    )


def test_absurd_skew_is_a_clear_error_not_an_overflow() -> None:
    message = from_json(track(timestamp="0001-01-02T00:00:00Z", sentAt="9999-12-30T00:00:00Z"))
    with pytest.raises(MessageError) as info:
        normalise(message, received_at=T0)
    assert info.value.code == "malformed" and info.value.path == "sentAt"


def test_a_message_survives_pickling_field_for_field() -> None:
    """The SDK's spill file pickles messages by position: every field must come back in place."""
    plus_two = timezone(timedelta(hours=2))
    message = Message(
        type="track",
        message_id="m-1",
        user_id="u-1",
        anonymous_id="a-1",
        event="Feature Used",
        name="n",
        properties={"feature_name": "projects", "nested": [1, {"x": None}]},
        traits={"email": "e@example.com"},
        group_id="g-1",
        previous_id="p-1",
        timestamp=datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC),
        original_timestamp=datetime(2026, 11, 29, 13, 0, tzinfo=plus_two),  # kept as given
        sent_at=datetime(2026, 11, 29, 12, 0, 1, tzinfo=UTC),
        received_at=datetime(1970, 1, 1, tzinfo=UTC),
        context={"ip": "203.0.113.9"},
        integrations={"All": False},
        extra={"custom": True},
        timestamp_missing=True,
    )
    assert len(message.__reduce__()[1]) == len(fields(Message))
    back = pickle.loads(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == message
    assert back.timestamp is not None and back.timestamp.tzinfo is UTC
    assert back.original_timestamp is not None and back.original_timestamp.tzinfo == plus_two
    checked = Checked(message, "repaired", (Violation("x", "p", "m", "repair"),), b"{}", "sdk")
    assert pickle.loads(pickle.dumps(checked)) == checked


@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("userId", {"type": "track", "event": "E", "userId": "a\u0000"}),
        ("anonymousId", {"type": "track", "event": "E", "anonymousId": "\u0000"}),
        ("messageId", {"type": "track", "event": "E", "userId": "u", "messageId": "m\u0000"}),
        ("previousId", {"type": "alias", "userId": "u", "previousId": "p\u0000"}),
        ("groupId", {"type": "group", "userId": "u", "groupId": "g\u0000"}),
        ("event", {"type": "track", "event": "E\u0000", "userId": "u"}),
        ("name", {"type": "page", "name": "Home\u0000", "userId": "u"}),
    ],
)
def test_a_nul_in_an_id_or_a_name_is_refused_with_the_field(
    field: str, data: dict[str, Any]
) -> None:
    with pytest.raises(MessageError) as raised:
        from_json(data)
    assert raised.value.path == field and "NUL" in raised.value.message


def test_a_nul_in_values_is_kept_and_encoded_escaped() -> None:
    data = {"type": "track", "event": "E", "userId": "u", "properties": {"k\u0000": ["v\u0000"]}}
    message = from_json(data)
    assert message.properties == {"k\u0000": ["v\u0000"]}
    assert b"\\u0000" in encode(message) and b"\x00" not in encode(message)


def test_a_python_built_message_with_a_nul_in_an_id_fails_the_limits() -> None:
    error = check_limits(Message(type="track", event="E", user_id="u\u0000"))
    assert error is not None and error.path == "userId"
