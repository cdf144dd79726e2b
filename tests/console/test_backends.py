"""Every console page on SQLite and PostgreSQL, and over nothing but the Store protocol."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.backends import AT, any_store, feature, postgres_database
from trackwell.console import create_console, hash_token
from trackwell.console.context import ConsoleStore
from trackwell.pipeline import accept
from trackwell.pipeline.privacy import PrivacyService
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import Store
from trackwell.store.base import Store as StoreProtocol

from .conftest import ADMIN_TOKEN, log_in

__all__ = ["any_store", "postgres_database"]


PAGES = ("/people", "/people/u1", "/people?q=a-1", "/events", "/events/Feature%20Used",
         "/violations", "/destinations", "/quality", "/plan", "/privacy", "/audit",
         "/api/privacy", "/api/audit")  # fmt: skip


def members(protocol: type) -> set[str]:
    """What a protocol declares, its roles' included: methods and attributes (`url`)."""
    found: set[str] = set()
    for klass in protocol.__mro__:
        if klass is object or klass.__name__ in ("Protocol", "Generic"):
            continue
        found |= {name for name in vars(klass) if not name.startswith("_")}
        found |= set(vars(klass).get("__annotations__", {}))
    return found


# What the Store protocol declares: its methods and its attributes (`url`).
PROTOCOL = members(StoreProtocol)
# What the console asks for: its roles only (no writes to the log, no work on the queues).
CONSOLE_ROLES = members(ConsoleStore)


class Proxy:
    """The Store protocol (or some of its roles) and nothing else: no SQL underneath, no
    backend-only methods."""

    def __init__(self, inner: Store, allowed: set[str] = PROTOCOL) -> None:
        self._inner = inner
        self._allowed = allowed

    def __getattr__(self, name: str) -> Any:
        if name not in self._allowed:
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
@pytest.mark.parametrize(
    "wrap", [False, True, "roles"], ids=["store", "protocol-only", "console-roles-only"]
)
async def test_every_page_renders(any_store: Store, plan: Plan, wrap: bool | str) -> None:
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
    store: Any = any_store
    if wrap:
        store = Proxy(any_store, CONSOLE_ROLES if wrap == "roles" else PROTOCOL)
    app = create_console(
        store,
        lambda: plan,
        admin_token_hash=hash_token(ADMIN_TOKEN),
        privacy=PrivacyService(store, ["cio"]),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        csrf = await log_in(client)
        # A request made through the form: its page and receipts read back through the roles.
        made = await client.post(
            "/privacy/requests", data={"kind": "suppress", "person": "u9", "csrf": csrf}
        )
        assert made.status_code == 303, made.text
        for path in (*PAGES, made.headers["location"]):
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


def test_the_console_asks_for_roles_not_the_whole_store() -> None:
    """mypy proves the console uses only these; here, that they leave the writes out."""
    assert {"timeline", "recent_people", "volume", "requeue"} <= CONSOLE_ROLES
    assert not {"write_batch", "claim", "ack", "release", "pull_forward"} & CONSOLE_ROLES
    assert CONSOLE_ROLES < PROTOCOL
