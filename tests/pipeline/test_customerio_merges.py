"""A visitor's history reaches their Customer.io profile however the backend ties it: identify
with the anonymous id, or a server-side alias that names no anonymousId (every server library's
`alias(previous_id=..., user_id=...)`) — through the store, the router and a fake Customer.io."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_PLAN
from tests.fakes import FakeCustomerIO
from trackwell.destinations.customerio import CustomerIO
from trackwell.pipeline import accept
from trackwell.pipeline.router import Router
from trackwell.plan import load_plan
from trackwell.quality import compile_plan
from trackwell.store import Store, open_store

PAGE = {"type": "page", "name": "Pricing", "properties": {"path": "/pricing"}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'merges.db'}")
    yield opened
    opened.close()


def deliver(store: Store, fake: FakeCustomerIO, api: str, messages: list[dict[str, Any]]) -> None:
    compiled = compile_plan(load_plan(EXAMPLE_PLAN))
    destination = CustomerIO(
        "cio",
        site_id=fake.site_id,
        api_key=fake.api_key,
        api=api,
        base_url=fake.url,  # type: ignore[arg-type]
    )
    router = Router(store, [destination])
    for message in messages:  # one at a time, as a visitor and then a backend send them
        accept(store, compiled, [message])
        router.drain("cio")
    router.close()


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_a_server_alias_of_a_visitor_ties_their_history_instead_of_merging(
    store: Store, api: str
) -> None:
    with FakeCustomerIO() as fake:
        deliver(
            store,
            fake,
            api,
            [
                {**PAGE, "anonymousId": "anon-7", "messageId": "pv"},
                {"type": "alias", "previousId": "anon-7", "userId": "user-7", "messageId": "al"},
            ],
        )
        assert fake.merges == []  # two people were never merged
        assert fake.people["user-7"]["anonymous_id"] == "anon-7"
        assert [e["name"] for e in fake.activity("user-7")] == ["Pricing"]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_alias_of_two_known_people_is_a_merge(store: Store, api: str) -> None:
    identify = {"type": "identify", "traits": {"email": "old@example.com"}}
    with FakeCustomerIO() as fake:
        deliver(
            store,
            fake,
            api,
            [
                {**identify, "userId": "old-1", "messageId": "i1"},
                {"type": "alias", "previousId": "old-1", "userId": "new-1", "messageId": "al"},
            ],
        )
        assert fake.merges == [{"primary": {"id": "new-1"}, "secondary": {"id": "old-1"}}]
