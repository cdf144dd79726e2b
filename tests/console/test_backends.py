"""Every console page on SQLite and PostgreSQL, and over nothing but the Store protocol."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.backends import AT, any_store, feature, postgres_database
from trackwell.console import create_console, hash_token
from trackwell.pipeline import accept
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import Store
from trackwell.store.base import Store as StoreProtocol

from .conftest import ADMIN_TOKEN, log_in

__all__ = ["any_store", "postgres_database"]


PAGES = ("/people", "/people/u1", "/people?q=a-1", "/events", "/events/Feature%20Used",
         "/violations", "/destinations", "/quality", "/plan")  # fmt: skip

# What the Store protocol declares: its methods and its attributes (`url`).
PROTOCOL = {name for name in vars(StoreProtocol) if not name.startswith("_")} | set(
    StoreProtocol.__annotations__
)


class Proxy:
    """The Store protocol and nothing else: no SQL underneath, no backend-only methods."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name not in PROTOCOL:
            raise AttributeError(f"{name!r} is not part of the Store protocol")
        return getattr(self._inner, name)


def test_the_proxy_hides_what_the_protocol_lacks(any_store: Store) -> None:
    proxy: Any = Proxy(any_store)
    assert {"recent_people", "stored_violations", "dead_letters", "url"} <= PROTOCOL
    with pytest.raises(AttributeError):
        _ = proxy._db
    with pytest.raises(AttributeError):
        _ = proxy.count_blocked


@pytest.mark.anyio
@pytest.mark.parametrize("wrap", [False, True], ids=["store", "protocol-only"])
async def test_every_page_renders(any_store: Store, plan: Plan, wrap: bool) -> None:
    accept(
        any_store,
        compile_plan(plan),
        [
            {"type": "page", "anonymousId": "a-1", "name": "Pricing", "messageId": "p-1", **AT},
            {"type": "identify", "userId": "u1", "anonymousId": "a-1", "messageId": "i-1",
             "traits": {"email": "u1@example.com"}, **AT},
            feature(1),
        ],
    )  # fmt: skip
    store: Any = Proxy(any_store) if wrap else any_store
    app = create_console(store, lambda: plan, admin_token_hash=hash_token(ADMIN_TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        await log_in(client)
        for path in PAGES:
            response = await client.get(path)
            assert response.status_code in (200, 303), (path, response.status_code)
        timeline = (await client.get("/api/people/a-1")).json()
        assert [e["label"] for e in timeline["entries"]] == ["Feature Used", "identify", "Pricing"]
        # Through the protocol alone, recent people are listed and a trait value finds its person.
        recent = (await client.get("/api/people")).json()["recent"]
        assert [(p["key"], p["anonymous"]) for p in recent] == [("u1", False)]
        assert "Nothing stored yet" not in (await client.get("/people")).text
        found = await client.get("/people?q=u1@example.com")
        assert (found.status_code, found.headers["location"]) == (303, "/people/u1")
