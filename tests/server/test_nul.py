"""A NUL character ("\\u0000", valid JSON) on both stores: refused with the field named in ids and
names, kept exactly in properties, and never able to fail another request or a later write."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest

from tests.backends import any_store, postgres_database
from trackwell.core.messages import Message
from trackwell.server.app import create_app
from trackwell.server.gateway import Gateway
from trackwell.server.settings import GatewaySettings
from trackwell.server.writer import Writer
from trackwell.store import Checked, Store, Written
from trackwell.store.sql.store import SQLStore

from ..conftest import EXAMPLE_PLAN
from .conftest import SERVER_KEY, SOURCES, TRACK

__all__ = ["any_store", "postgres_database"]

pytestmark = pytest.mark.anyio
NUL = "\u0000"


@asynccontextmanager
async def gateway_on(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A started gateway over `store` (either backend), and a client with the server key."""
    settings = GatewaySettings(
        plan=EXAMPLE_PLAN, store=store, sources=cast(Any, SOURCES), access_log=False, router=False
    )
    app = create_app(Gateway(settings))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url="http://gateway.test", auth=(SERVER_KEY, "")
        ) as client,
    ):
        yield client


def track(n: int, **fields: Any) -> dict[str, Any]:
    return {**TRACK, "messageId": f"m-{n}", **fields}


CASES = [
    ("/v1/track", track(1, userId=f"user{NUL}1"), "userId"),
    ("/v1/track", track(2, userId=None, anonymousId=f"a{NUL}"), "anonymousId"),
    ("/v1/track", track(3, event=f"Account{NUL}Created"), "event"),
    ("/v1/track", track(4, messageId=f"m{NUL}4"), "messageId"),
    ("/v1/page", {"userId": "user-1", "name": f"Home{NUL}"}, "name"),
    ("/v1/alias", {"userId": "user-1", "previousId": f"{NUL}"}, "previousId"),
    ("/v1/group", {"userId": "user-1", "groupId": f"g{NUL}"}, "groupId"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES)
async def test_a_nul_in_an_id_or_a_name_gets_400_naming_the_field(
    any_store: SQLStore, path: str, body: dict[str, Any], field: str
) -> None:
    async with gateway_on(any_store) as client:
        response = await client.post(path, json=body)
        assert response.status_code == 400, response.text
        problem = response.json()
        assert problem["field"] == field and "NUL" in problem["message"], problem
        assert (any_store.count(), any_store.count_blocked()) == (0, 0)
        # The store takes the next request: nothing of the refused one lingers.
        assert (await client.post("/v1/track", json=track(9))).status_code == 200
        assert any_store.count() == 1


async def test_a_nul_in_a_batch_blocks_that_message_only(any_store: SQLStore) -> None:
    async with gateway_on(any_store) as client:
        batch = [track(1), track(2, userId=f"u{NUL}"), track(3, event=f"E{NUL}"), track(4)]
        response = await client.post("/v1/batch", json={"batch": batch})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"], body["blocked"]) == (2, 2), body
        fields = sorted((v["index"], v["path"]) for v in body["violations"])
        assert fields == [(1, "userId"), (2, "event")], body
        assert (any_store.count(), any_store.count_blocked()) == (2, 2)


async def test_a_nul_in_a_customerio_id_gets_400(any_store: SQLStore) -> None:
    async with gateway_on(any_store) as client:
        auth = ("backend", SERVER_KEY)
        response = await client.put("/api/v1/customers/a%00b", json={"email": "x"}, auth=auth)
        assert response.status_code == 400, response.text
        events = await client.post(
            "/api/v1/events", json={"name": f"Signed{NUL}Up", "anonymous_id": "v1"}, auth=auth
        )
        assert events.status_code == 400 and events.json()["field"] == "event", events.text
        assert (any_store.count(), any_store.count_blocked()) == (0, 0)


async def test_a_nul_in_values_and_nested_json_round_trips(any_store: SQLStore) -> None:
    value = f"line one{NUL}line two"
    nested = {"list": [value, {f"k{NUL}ey": value}]}
    async with gateway_on(any_store) as client:
        context = {"note": value, "nested": nested}
        response = await client.post("/v1/track", json=track(1, context=context))
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1
        traits = {"email": "ada@example.com", "name": value}
        identify = {"userId": "user-1", "traits": traits, "messageId": "i-1"}
        assert (await client.post("/v1/identify", json=identify)).status_code == 200
    stored = any_store.get("m-1")
    assert stored is not None
    assert stored.message["context"]["note"] == value
    assert stored.message["context"]["nested"] == nested
    profile = any_store.profile("user-1")
    assert profile is not None and profile.traits["name"] == value


async def test_nul_requests_among_good_ones_fail_alone(any_store: SQLStore) -> None:
    async with gateway_on(any_store) as client:
        good = [client.post("/v1/track", json=track(n)) for n in range(40)]
        bad = [client.post("/v1/track", json=track(100 + n, userId=NUL)) for n in range(10)]
        answers = await asyncio.gather(*good, *bad)
        assert [r.status_code for r in answers[:40]] == [200] * 40
        assert [r.status_code for r in answers[40:]] == [400] * 10
        assert any_store.count() == 40
        # Later writes still work (no table or partition was lost with a failed commit).
        assert (await client.post("/v1/track", json=track(200))).status_code == 200


class Held:
    """A store whose first write waits to be let go, so the next requests queue into one group."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.release = threading.Event()
        self.calls: list[int] = []

    def write_batch(self, batch: Sequence[Checked]) -> list[Written]:
        self.calls.append(len(batch))
        if len(self.calls) == 1:
            self.release.wait(10)
        return self.store.write_batch(batch)


def checked(message_id: str, user_id: str) -> Checked:
    """A message as a caller that skips `prepare` might hand it over (nothing blocks a NUL)."""
    message = Message(
        type="track",
        message_id=message_id,
        user_id=user_id,
        event="Account Created",
        timestamp=datetime.now(UTC),
        received_at=datetime.now(UTC),
    )
    return Checked(message, "accepted", (), b"", "backend")


async def test_a_group_commit_that_fails_fails_only_the_culprit(any_store: SQLStore) -> None:
    held = Held(any_store)
    writer = Writer(held)  # type: ignore[arg-type]
    writer.start()
    try:
        first = asyncio.ensure_future(writer.write([checked("first", "u0")]))
        while not held.calls:
            await asyncio.sleep(0.01)
        requests = [
            asyncio.ensure_future(writer.write([checked(f"g{n}", f"u{n}")])) for n in range(5)
        ]
        culprit = asyncio.ensure_future(writer.write([checked("bad", f"u{NUL}")]))
        requests += [
            asyncio.ensure_future(writer.write([checked(f"h{n}", f"v{n}")])) for n in range(5)
        ]
        await asyncio.sleep(0.05)
        held.release.set()
        assert (await first)[0].seq is not None
        results = await asyncio.gather(*requests)
        assert all(w[0].seq is not None for w in results)
        with pytest.raises(ValueError, match="userId"):
            await culprit
        assert held.calls[1] == 11, "the eleven requests shared one group commit"
        assert any_store.count() == 11
        assert writer.stats.healthy
    finally:
        writer.stop()
