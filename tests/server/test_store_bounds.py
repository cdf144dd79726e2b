"""A locked or frozen PostgreSQL: bounded 503s with Retry-After, and readiness that follows it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from tests.postgres import fresh_schema_url, postgres_database
from tests.tcpproxy import PausableProxy
from trackwell.server.app import create_app
from trackwell.server.gateway import Gateway
from trackwell.server.settings import GatewaySettings
from trackwell.store import StoreError
from trackwell.store.postgres import PostgresStore
from trackwell.store.postgres.bounds import Bounds, take_bounds

from ..conftest import EXAMPLE_PLAN
from .conftest import QUICK_KEY, SOURCES, TRACK

__all__ = ["postgres_database"]

pytestmark = pytest.mark.anyio

# Short bounds, so each test takes seconds: the defaults are 5 s / 10 s / 15 s.
BOUNDS = (
    "lock_timeout=300ms&statement_timeout=1s&call_timeout=1.5&pool_timeout=1.5&connect_timeout=2"
)
# A request must be answered within its bound plus the time to start and unwind the call.
ANSWER_WITHIN = 4.0
RECOVER_WITHIN = 5.0


@asynccontextmanager
async def gateway_on(url: str) -> AsyncIterator[tuple[httpx.AsyncClient, PostgresStore]]:
    """A started in-process gateway over a PostgreSQL store at `url`."""
    store = PostgresStore(url)
    sources: Any = SOURCES  # the test sources, as the shared harness passes them
    settings = GatewaySettings(
        plan=EXAMPLE_PLAN,
        store=store,
        sources=sources,
        write_key=QUICK_KEY,
        plan_watch_seconds=None,
        access_log=False,
    )
    gateway = Gateway(settings)
    app = create_app(gateway)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
            ) as client,
        ):
            yield client, store
    finally:
        store.close()


async def track(client: httpx.AsyncClient, message_id: str) -> tuple[httpx.Response, float]:
    """Send one planned track message; the response and how long it took."""
    started = time.monotonic()
    # A cap of our own: without a bound in the store, the request would wait without limit.
    response = await asyncio.wait_for(
        client.post("/v1/track", json={**TRACK, "messageId": message_id}, auth=(QUICK_KEY, "")),
        timeout=ANSWER_WITHIN * 2,
    )
    return response, time.monotonic() - started


async def wait_ready(client: httpx.AsyncClient, ready: bool, within: float) -> dict[str, Any]:
    """Poll /readyz until it says `ready` (or not); its body, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        response = await client.get("/readyz")
        if (response.status_code == 200) == ready:
            body: dict[str, Any] = response.json()
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz did not turn {ready} in {within}s: {response.text}")
        await asyncio.sleep(0.1)


def assert_unavailable(response: httpx.Response, took: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.json()["code"] == "store_unavailable"
    assert took < ANSWER_WITHIN


def schema_of(url: str) -> str:
    return url.split("schema=", 1)[1].split("&", 1)[0]


async def test_a_table_lock_gives_a_bounded_503_and_readiness_follows_the_lock(
    postgres_database: str,
) -> None:
    url = f"{fresh_schema_url(postgres_database)}&{BOUNDS}"
    async with gateway_on(url) as (client, store):
        assert (await track(client, "before-lock"))[0].status_code == 200
        await wait_ready(client, True, RECOVER_WITHIN)
        with psycopg.connect(postgres_database) as locker:
            locker.execute(f'LOCK TABLE "{schema_of(url)}".log IN ACCESS EXCLUSIVE MODE')
            # The probe sees the lock before any write fails on it.
            body = await wait_ready(client, False, RECOVER_WITHIN)
            assert body["problems"] == [
                "a lock held by another session did not clear in time (lock_timeout)"
            ]
            response, took = await track(client, "behind-lock")
            assert_unavailable(response, took)
            assert "nothing was stored" in response.json()["message"]
            assert "lock" in response.json()["message"]
            locker.rollback()  # the lock is released
            released = time.monotonic()
            await wait_ready(client, True, RECOVER_WITHIN)
            assert time.monotonic() - released < RECOVER_WITHIN
        response, _ = await track(client, "after-lock")
        assert response.status_code == 200, response.text
        # Nothing half-written: the refused message is not in the log, the others are once.
        assert store.get("behind-lock") is None
        assert store.get("before-lock") is not None and store.get("after-lock") is not None


async def test_a_frozen_server_gives_a_bounded_503_and_readiness_recovers(
    postgres_database: str,
) -> None:
    parts = urlsplit(postgres_database)
    with PausableProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
        direct = fresh_schema_url(postgres_database)
        url = urlunsplit((parts.scheme, netloc, parts.path, direct.split("?", 1)[1], ""))
        url = f"{url}&{BOUNDS}"
        async with gateway_on(url) as (client, store):
            assert (await track(client, "before-freeze"))[0].status_code == 200
            await wait_ready(client, True, RECOVER_WITHIN)
            proxy.pause()
            # The probe notices before any request does: it stalls, then runs out of time.
            body = await wait_ready(client, False, RECOVER_WITHIN)
            assert any(
                "has not answered a probe" in problem or "did not answer in time" in problem
                for problem in body["problems"]
            ), body
            response, took = await track(client, "while-frozen")
            assert_unavailable(response, took)
            assert "nothing was stored" in response.json()["message"]
            assert (await client.get("/readyz")).status_code == 503
            proxy.resume()
            resumed = time.monotonic()
            await wait_ready(client, True, RECOVER_WITHIN)
            assert time.monotonic() - resumed < RECOVER_WITHIN
            response, _ = await track(client, "after-freeze")
            assert response.status_code == 200, response.text
            assert store.get("after-freeze") is not None
            # The cut transaction never reached its COMMIT: the server rolled it back.
            assert store.get("while-frozen") is None


def test_bounds_come_from_the_url_and_bad_ones_say_which(postgres_database: str) -> None:
    query = {"lock_timeout": "2s", "call_timeout": "3", "pool_timeout": "500ms", "x": "y"}
    bounds, libpq = take_bounds(query)
    assert bounds == Bounds(lock_timeout_ms=2000, call_timeout_s=3.0, pool_timeout_s=0.5)
    assert query == {"x": "y"}
    assert libpq["tcp_user_timeout"] == "15000" and libpq["keepalives"] == "1"
    with pytest.raises(StoreError, match="statement_timeout='soon'"):
        take_bounds({"statement_timeout": "soon"})
    store = PostgresStore(f"{fresh_schema_url(postgres_database)}&statement_timeout=250ms")
    try:
        with store._pg.read() as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("250ms",)
            assert conn.execute("SHOW lock_timeout").fetchone() == ("5s",)
    finally:
        store.close()


def test_migrations_are_not_cut_short_by_the_bounds(postgres_database: str) -> None:
    url = fresh_schema_url(postgres_database)
    store = PostgresStore(f"{url}&statement_timeout=1ms&lock_timeout=1ms")
    try:
        with psycopg.connect(postgres_database) as conn:
            names = conn.execute(f'SELECT name FROM "{schema_of(url)}".migrations').fetchall()
        assert len(names) >= 3
    finally:
        store.close()
