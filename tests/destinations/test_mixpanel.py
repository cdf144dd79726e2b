"""Mixpanel: `/import` events (strict, partial success) and `/engage` profiles, against the fake."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.destinations.helpers import ACTION_MS, alias, group, identify, kinds, page, screen, track
from tests.fakes import FakeMixpanel
from trackwell.destinations import CaptureTransport, HttpRequest, MissingCredentialsError, Mixpanel
from trackwell.destinations.mixpanel import insert_id

Closing = Callable[[Mixpanel], Mixpanel]


def connected(fake: FakeMixpanel, closing: Closing, **settings: Any) -> Mixpanel:
    user, secret = fake.service_account
    return closing(
        Mixpanel(
            project_token=fake.project_token,
            service_account_username=user,
            service_account_secret=secret,
            project_id=fake.project_id,
            base_url=fake.url,
            **settings,
        )
    )


def captured(messages: list[dict[str, Any]], **settings: Any) -> list[HttpRequest]:
    transport = CaptureTransport()
    Mixpanel(project_token="tok", api_secret="sec", transport=transport, **settings).deliver(
        messages
    )
    return transport.requests


def test_events_map_to_import_with_insert_id_and_ms_time() -> None:
    message = track(anonymousId="device-9", context={"ip": "203.0.113.9"})
    (request,) = captured([message])
    assert request.url == "https://api.mixpanel.com/import?strict=1"
    assert base64.b64decode(request.headers["authorization"][6:]) == b"sec:"
    (event,) = json.loads(request.body)
    assert event == {
        "event": "Project Created",
        "properties": {
            "project_id": "p-1",
            "seats": 3,
            "time": ACTION_MS,
            "distinct_id": "user-0001",
            "$insert_id": message["messageId"],
            "$user_id": "user-0001",
            "$device_id": "device-9",
            "token": "tok",
            "ip": "203.0.113.9",
        },
    }


def test_anonymous_pages_and_screens() -> None:
    (request,) = captured([page(user_id=None, anonymousId="device-9"), screen(), page(name=None)])
    events = json.loads(request.body)
    assert events[0]["event"] == "Viewed Pricing Page"
    assert events[0]["properties"]["distinct_id"] == "$device:device-9"
    assert events[1]["event"] == "Viewed Settings Screen"
    assert events[2]["event"] == "Loaded a Page"


def test_identify_updates_the_profile_through_engage_first() -> None:
    engage, imported = captured([track(), identify()])
    assert engage.url == "https://api.mixpanel.com/engage?verbose=1"
    assert "authorization" not in engage.headers  # /engage is authorised by the token
    assert json.loads(engage.body) == [
        {
            "$token": "tok",
            "$distinct_id": "user-0001",
            "$set": {
                "$email": "ada@example.com",
                "plan": "pro",
                "$created": "2024-01-02T03:04:05Z",
            },
        }
    ]
    assert imported.url.endswith("/import?strict=1")


def test_insert_id_fits_mixpanel_rules() -> None:
    assert (
        insert_id("0190a1b2-0000-7000-8000-000000000001") == "0190a1b2-0000-7000-8000-000000000001"
    )
    hashed = insert_id("ajs-next-1714564800250-abcdef.0123456789")
    assert hashed == insert_id("ajs-next-1714564800250-abcdef.0123456789")
    assert len(hashed) <= 36 and hashed.isalnum()


def test_alias_and_group_are_not_mixpanel_calls() -> None:
    destination = Mixpanel(capture=True)
    assert destination.filter.types == frozenset(["identify", "track", "page", "screen"])
    assert kinds(destination.deliver([alias(), group()])) == ["dead", "dead"]


def test_missing_credentials_are_an_error_unless_capture_is_chosen() -> None:
    # Used to fall back to capture mode silently and report every message delivered.
    with pytest.raises(MissingCredentialsError, match="project_token, api_secret") as error:
        Mixpanel()
    assert "capture=True" in str(error.value)
    with pytest.raises(MissingCredentialsError) as error:
        Mixpanel(project_token="tok")  # /import cannot be authorised
    assert [c.described() for c in error.value.missing] == [
        "api_secret (or service_account_username and service_account_secret)"
    ]
    with pytest.raises(MissingCredentialsError, match="service_account_secret"):
        Mixpanel(project_token="tok", service_account_username="u", project_id="1")
    assert Mixpanel(capture=True).capture
    assert Mixpanel(project_token="tok", capture=True).capture
    assert not Mixpanel(project_token="tok", api_secret="s").capture
    with pytest.raises(ValueError, match="project_id"):
        Mixpanel(project_token="t", service_account_username="u", service_account_secret="s")
    assert Mixpanel(region="eu", capture=True).base_url == "https://api-eu.mixpanel.com"


def test_delivered_once_to_the_fake(mixpanel_fake: FakeMixpanel, closing: Closing) -> None:
    destination = connected(mixpanel_fake, closing)
    messages = [identify(), track(), page(), screen(user_id=None, anonymousId="device-9")]
    assert set(kinds(destination.deliver(messages))) == {"delivered"}
    assert set(kinds(destination.deliver(messages))) == {"delivered"}
    assert len(mixpanel_fake.events) == 3
    assert mixpanel_fake.profiles["user-0001"]["$email"] == "ada@example.com"
    imports = [r for r in mixpanel_fake.requests if r.path == "/import"]
    assert imports and all(r.query == {"strict": "1", "project_id": "4242"} for r in imports)


def test_400_partial_success_is_per_event(mixpanel_fake: FakeMixpanel, closing: Closing) -> None:
    destination = connected(mixpanel_fake, closing)
    future = track(timestamp="2999-01-01T00:00:00Z")
    placeholder = track(user_id="null")
    outcomes = destination.deliver([track(), future, track(), placeholder])
    assert kinds(outcomes) == ["delivered", "dead", "delivered", "dead"]
    assert "properties.time" in (outcomes[1].error or "")
    assert "distinct_id" in (outcomes[3].error or "")
    assert len(mixpanel_fake.events) == 2  # Mixpanel kept the good ones


def test_api_secret_auth_and_bad_credentials(mixpanel_fake: FakeMixpanel, closing: Closing) -> None:
    good = closing(
        Mixpanel(project_token="token-1", api_secret="secret-1", base_url=mixpanel_fake.url)
    )
    assert kinds(good.deliver([track()])) == ["delivered"]
    bad = closing(Mixpanel(project_token="token-1", api_secret="wrong", base_url=mixpanel_fake.url))
    (outcome,) = bad.deliver([track()])
    assert outcome.kind == "dead" and "Invalid credentials" in (outcome.error or "")


def test_engage_with_a_wrong_token_is_dead(mixpanel_fake: FakeMixpanel, closing: Closing) -> None:
    destination = closing(
        Mixpanel(project_token="wrong", api_secret="secret-1", base_url=mixpanel_fake.url)
    )
    (outcome,) = destination.deliver([identify()])
    assert outcome.kind == "dead" and "invalid project token" in (outcome.error or "")


def test_413_splits(mixpanel_fake: FakeMixpanel, closing: Closing) -> None:
    destination = connected(mixpanel_fake, closing)
    mixpanel_fake.fail_next(status=413)
    assert set(kinds(destination.deliver([track() for _ in range(3)]))) == {"delivered"}
    assert len(mixpanel_fake.events) == 3


def test_too_many_properties_is_dead() -> None:
    (outcome,) = Mixpanel(capture=True).deliver(
        [track(properties={f"p{i}": i for i in range(260)})]
    )
    assert outcome.kind == "dead" and "properties" in (outcome.error or "")
