"""Amplitude HTTP V2: mapping, whole-batch 400s naming bad events, 413 splitting, throttling."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.destinations.helpers import ACTION_MS, alias, group, identify, kinds, page, screen, track
from tests.fakes import FakeAmplitude
from trackwell.destinations import Amplitude, CaptureTransport, HttpRequest, HttpResponse, Outgoing

Closing = Callable[[Amplitude], Amplitude]


def captured(messages: list[dict[str, Any]], **settings: Any) -> HttpRequest:
    transport = CaptureTransport()
    Amplitude(api_key="amp", transport=transport, **settings).deliver(messages)
    (request,) = transport.requests
    return request


def test_events_carry_insert_id_ms_time_and_both_ids() -> None:
    message = track(
        anonymousId="device-9",
        context={"ip": "203.0.113.9", "library": {"name": "trackwell-python"}},
    )
    request = captured([message])
    assert request.url == "https://api2.amplitude.com/2/httpapi"
    sent = json.loads(request.body)
    assert sent["api_key"] == "amp"
    assert sent["events"] == [
        {
            "time": ACTION_MS,
            "insert_id": message["messageId"],
            "user_id": "user-0001",
            "device_id": "device-9",
            "event_type": "Project Created",
            "event_properties": {"project_id": "p-1", "seats": 3},
            "ip": "203.0.113.9",
            "library": "trackwell-python",
        }
    ]


def test_identify_group_page_and_screen() -> None:
    request = captured([identify(), group(), page(), screen()], group_type="account")
    ident, grouped, viewed, screened = json.loads(request.body)["events"]
    assert ident["event_type"] == "$identify"
    assert ident["user_properties"] == {
        "$set": {"email": "ada@example.com", "plan": "pro", "createdAt": "2024-01-02T03:04:05Z"}
    }
    assert grouped["groups"] == {"account": "acme-01"}
    # As the SDKs' setGroup: the group is also set as a user property.
    assert grouped["user_properties"] == {"$set": {"account": "acme-01"}}
    assert viewed["event_type"] == "Viewed Pricing Page"
    assert screened["event_type"] == "Viewed Settings Screen"


def test_short_ids_are_dead_unless_allowed() -> None:
    short = track(user_id="u1")
    (outcome,) = Amplitude(capture=True).deliver([short])
    assert outcome.kind == "dead" and "at least 5 characters" in (outcome.error or "")
    request = captured([short], min_id_length=1)
    assert json.loads(request.body)["options"] == {"min_id_length": 1}
    assert kinds(Amplitude(capture=True).deliver([alias()])) == ["dead"]


def test_delivered_once(amplitude_fake: FakeAmplitude, closing: Closing) -> None:
    destination = closing(Amplitude(api_key=amplitude_fake.api_key, base_url=amplitude_fake.url))
    messages = [identify(), track(), page(), group()]
    assert set(kinds(destination.deliver(messages))) == {"delivered"}
    assert set(kinds(destination.deliver(messages))) == {"delivered"}
    assert len(amplitude_fake.events) == 4 and amplitude_fake.duplicates == 4


def test_400_kills_the_named_events_and_resends_the_rest(
    amplitude_fake: FakeAmplitude, closing: Closing
) -> None:
    destination = closing(Amplitude(api_key=amplitude_fake.api_key, base_url=amplitude_fake.url))
    nameless = track(event="")  # a hand-made message: only Amplitude objects to it
    outcomes = destination.deliver([track(), nameless, track()])
    assert kinds(outcomes) == ["retry", "dead", "retry"]
    assert outcomes[0].retry_after == 0.0  # nothing was ingested; the good ones go again at once
    assert outcomes[1].error == "Amplitude: missing event_type"
    assert amplitude_fake.events == []


def test_parse_reads_missing_and_invalid_field_lists() -> None:
    destination = Amplitude(capture=True)
    outgoing = Outgoing(HttpRequest("POST", "http://x/2/httpapi", {}), (10, 11, 12))
    answer = {
        "code": 400,
        "events_with_missing_fields": {"event_type": [0]},
        "events_with_invalid_fields": {"time": [0, 2]},
    }
    outcomes = destination.parse(HttpResponse(400, {}, json.dumps(answer).encode()), outgoing, [])
    assert outcomes[10].error == "Amplitude: invalid time, missing event_type"
    assert (outcomes[11].kind, outcomes[12].kind) == ("retry", "dead")


def test_invalid_api_key_is_dead(amplitude_fake: FakeAmplitude, closing: Closing) -> None:
    destination = closing(Amplitude(api_key="wrong-key", base_url=amplitude_fake.url))
    (outcome,) = destination.deliver([track()])
    assert outcome.kind == "dead" and "Invalid API key" in (outcome.error or "")


def test_413_splits_the_batch_until_it_fits(closing: Closing) -> None:
    with FakeAmplitude(max_body_bytes=2_500) as fake:
        destination = closing(Amplitude(api_key=fake.api_key, base_url=fake.url))
        messages = [track(properties={"note": "x" * 400}) for _ in range(10)]
        assert set(kinds(destination.deliver(messages))) == {"delivered"}
        statuses = len(fake.requests)
        destination.close()
    assert len(fake.events) == 10
    assert statuses > 2  # one refused batch, then halves (and halves of halves)


def test_429_without_retry_after_waits_30_seconds(
    amplitude_fake: FakeAmplitude, closing: Closing
) -> None:
    destination = closing(Amplitude(api_key=amplitude_fake.api_key, base_url=amplitude_fake.url))
    amplitude_fake.fail_next(
        status=429, body={"code": 429, "error": "Too many requests for some devices and users"}
    )
    (outcome,) = destination.deliver([track()])
    assert (outcome.kind, outcome.retry_after) == ("retry", 30.0)
    assert "Too many requests" in (outcome.error or "")


def test_eu_region() -> None:
    assert Amplitude(region="eu", capture=True).base_url == "https://api.eu.amplitude.com"
