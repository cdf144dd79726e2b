"""Test your instrumentation like your code: a pytest fixture and assertion helpers.

Enable it in a conftest.py with `pytest_plugins = ["trackwell.testing"]`, then:

    def test_signup(trackwell_client):
        signup(user, analytics=trackwell_client)
        trackwell_client.assert_tracked(user.id, "Account Created", plan="free")

The fixture's client checks every call against the plan and raises `trackwell.PlanViolation`
on anything the plan would block or repair, and stores into memory, synchronously.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trackwell.io.config import load_settings
from trackwell.sdk.client import Client

PLAN_OPTION = "trackwell_plan"


class TestClient(Client):
    """A Client over an in-memory store, raising on violations, with assertion helpers."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, plan: str | Path | None = None, **options: Any) -> None:
        options.setdefault("on_violation", "raise")
        options.setdefault("durability", "sync")
        super().__init__(plan=plan, store="sqlite:///:memory:", **options)

    def messages(self, user_id: str, *, type: str | None = None) -> list[dict[str, Any]]:
        """Every stored message of a person (merged anonymous history included), oldest first."""
        self.flush()
        entries = self.store.timeline(user_id).entries
        return [e.message for e in entries if type is None or e.message.get("type") == type]

    def tracked(self, user_id: str, event: str | None = None) -> list[dict[str, Any]]:
        """The person's track messages, optionally of one event."""
        return [
            m
            for m in self.messages(user_id, type="track")
            if event is None or m.get("event") == event
        ]

    def assert_tracked(self, user_id: str, event: str, **properties: Any) -> dict[str, Any]:
        """Fail unless the person has `event` with (at least) these property values; returns it."""
        found: list[dict[str, Any]] = self.tracked(user_id, event)
        for message in reversed(found):
            props = message.get("properties", {})
            if all(props.get(k) == v for k, v in properties.items()):
                return dict(message)
        seen = [m.get("event") for m in self.tracked(user_id)]
        detail = f" with {properties}" if properties else ""
        others = f"; closest match has {found[-1].get('properties')}" if found else ""
        raise AssertionError(
            f"{user_id!r} did not track {event!r}{detail} (tracked: {seen}){others}"
        )

    def assert_not_tracked(self, user_id: str, event: str) -> None:
        """Fail if the person has `event`."""
        if self.tracked(user_id, event):
            raise AssertionError(f"{user_id!r} tracked {event!r}, which was not expected")

    def assert_identified(self, user_id: str, **traits: Any) -> dict[str, Any]:
        """Fail unless the person's profile has these trait values; returns the traits."""
        self.flush()
        profile = self.store.profile(user_id)
        if profile is None:
            raise AssertionError(f"{user_id!r} was never identified")
        wrong = {k: profile.traits.get(k) for k, v in traits.items() if profile.traits.get(k) != v}
        if wrong:
            raise AssertionError(f"{user_id!r} has traits {wrong}, expected {traits}")
        return dict(profile.traits)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The `trackwell_plan` ini option: which plan the fixture checks against."""
    parser.addini(PLAN_OPTION, "tracking plan for the trackwell_client fixture", default="")


@pytest.fixture
def trackwell_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A TestClient for one test: in-memory, raising on violations."""
    configured = str(request.config.getini(PLAN_OPTION) or "")
    plan: str | Path = (
        request.config.rootpath / configured
        if configured
        else os.environ.get("TRACKWELL_PLAN") or load_settings().plan
    )
    client = TestClient(plan)
    try:
        yield client
    finally:
        client.close()
