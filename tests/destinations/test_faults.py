"""Every destination against its fake's scripted faults: what is retried, what waits, what is dead."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.destinations.helpers import identify, kinds, track
from tests.fakes import FakeServer
from trackwell.destinations import (
    Amplitude,
    CustomerIO,
    Destination,
    Mixpanel,
    SegmentCompatible,
    Webhook,
)

TIMEOUT = 0.3


def _customerio(fake: Any, url: str) -> Destination:
    return CustomerIO(site_id=fake.site_id, api_key=fake.api_key, base_url=url, timeout=TIMEOUT)


def _customerio_v1(fake: Any, url: str) -> Destination:
    return CustomerIO(
        site_id=fake.site_id, api_key=fake.api_key, base_url=url, mode="v1", timeout=TIMEOUT
    )


def _segment(fake: Any, url: str) -> Destination:
    return SegmentCompatible(write_key=fake.write_key, base_url=url, timeout=TIMEOUT)


def _mixpanel(fake: Any, url: str) -> Destination:
    user, secret = fake.service_account
    return Mixpanel(
        project_token=fake.project_token,
        service_account_username=user,
        service_account_secret=secret,
        project_id=fake.project_id,
        base_url=url,
        timeout=TIMEOUT,
    )


def _amplitude(fake: Any, url: str) -> Destination:
    return Amplitude(api_key=fake.api_key, base_url=url, timeout=TIMEOUT)


def _webhook(fake: Any, url: str) -> Destination:
    return Webhook(url=url + fake.path, secret=fake.secret, timeout=TIMEOUT)


KINDS: dict[str, tuple[str, Callable[[Any, str], Destination]]] = {
    "customerio-v2": ("customerio_fake", _customerio),
    "customerio-v1": ("customerio_fake", _customerio_v1),
    "segment": ("segment_fake", _segment),
    "mixpanel": ("mixpanel_fake", _mixpanel),
    "amplitude": ("amplitude_fake", _amplitude),
    "webhook": ("webhook_fake", _webhook),
}


@pytest.fixture(params=list(KINDS))
def setup(
    request: pytest.FixtureRequest, closing: Callable[[Destination], Destination]
) -> tuple[FakeServer, Destination]:
    """A fake and a destination pointed at it, for each kind."""
    fixture, make = KINDS[request.param]
    fake = request.getfixturevalue(fixture)
    return fake, closing(make(fake, fake.url))


def delivered_once(fake: FakeServer) -> bool:
    """Whether the fake holds the test message exactly once."""
    for attribute in ("events", "messages"):
        if hasattr(fake, attribute):
            return len(getattr(fake, attribute)) == 1
    raise AssertionError("fake keeps no accepted items")


def test_429_with_retry_after_is_retried_after_that_long(
    setup: tuple[FakeServer, Destination],
) -> None:
    fake, destination = setup
    fake.fail_next(status=429, retry_after="7", body={"error": "slow down"})
    (outcome,) = destination.deliver([track()])
    assert (outcome.kind, outcome.retry_after) == ("retry", 7.0)
    assert "429" in (outcome.error or "")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_then_delivered_once(
    setup: tuple[FakeServer, Destination], status: int
) -> None:
    fake, destination = setup
    fake.fail_next(status=status)
    message = track()
    assert kinds(destination.deliver([message])) == ["retry"]
    assert kinds(destination.deliver([message])) == ["delivered"]
    assert kinds(destination.deliver([message])) == ["delivered"]  # a duplicate retry
    assert delivered_once(fake)


def test_a_hang_past_the_timeout_is_retried(setup: tuple[FakeServer, Destination]) -> None:
    fake, destination = setup
    fake.hang_next(seconds=3 * TIMEOUT)
    (outcome,) = destination.deliver([track()])
    assert outcome.kind == "retry" and "timeout" in (outcome.error or "")


def test_a_closed_connection_is_retried(setup: tuple[FakeServer, Destination]) -> None:
    fake, destination = setup
    fake.close_next()
    (outcome,) = destination.deliver([track()])
    assert outcome.kind == "retry" and "no response" in (outcome.error or "")


@pytest.mark.parametrize("kind", list(KINDS))
def test_connection_refused_is_retried(
    kind: str,
    refused_url: str,
    closing: Callable[[Destination], Destination],
    request: pytest.FixtureRequest,
) -> None:
    fixture, make = KINDS[kind]
    fake = request.getfixturevalue(fixture)
    destination = closing(make(fake, refused_url))
    outcomes = destination.deliver([track(), identify()])
    assert kinds(outcomes) == ["retry", "retry"]
    assert "connect" in (outcomes[0].error or "")


def test_no_payload_or_secret_is_logged(
    setup: tuple[FakeServer, Destination], caplog: pytest.LogCaptureFixture
) -> None:
    fake, destination = setup
    caplog.set_level(logging.DEBUG, logger="trackwell")
    fake.fail_next(status=400, body={"error": "ada@example.com is not allowed"})
    destination.deliver([identify(), track()])
    destination.deliver([identify(), track()])
    names = ("api_key", "write_key", "project_token", "api_secret", "secret", "service_account")
    secrets: list[str] = []
    for name in names:
        value = getattr(fake, name, None)
        secrets.extend(value if isinstance(value, tuple) else [value] if value else [])
    for value in ("ada@example.com", "p-1", *secrets):
        assert value not in caplog.text
