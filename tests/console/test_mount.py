"""The console mounted in the gateway at `/`: its pages beside the APIs, neither in the other's way."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from trackwell.console import hash_token
from trackwell.server.app import create_app
from trackwell.server.auth import hash_key
from trackwell.server.gateway import Gateway
from trackwell.server.settings import GatewaySettings
from trackwell.store.sqlite import SQLiteStore

from ..conftest import EXAMPLE_PLAN
from .conftest import ADMIN_TOKEN, WRITE_KEY, log_in

pytestmark = pytest.mark.anyio


async def test_the_console_beside_the_gateway_apis(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "gateway.db"))
    gateway = Gateway(
        GatewaySettings(
            plan=EXAMPLE_PLAN,
            store=store,
            sources={"backend": {"key_hashes": [hash_key(WRITE_KEY)]}},
            plan_watch_seconds=None,
            admin_token_hash=hash_token(ADMIN_TOKEN),
        )
    )
    app = create_app(gateway)  # the gateway mounts the console after its own routes
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
            ) as client,
        ):
            assert (await client.get("/healthz")).status_code == 200
            sent = await client.post(
                "/v1/track",
                auth=(WRITE_KEY, ""),
                json={
                    "userId": "u-1",
                    "event": "Account Created",
                    "timestamp": "2026-01-05T10:00:00Z",
                    "properties": {"plan": "free", "signup_source": "organic"},
                },
            )
            assert sent.status_code == 200
            # The write key that just sent an event does not open the console.
            refused = await client.get("/api/people/u-1", auth=(WRITE_KEY, ""))
            assert refused.status_code == 401
            await log_in(client)
            person = (await client.get("/api/people/u-1")).json()
            assert [e["label"] for e in person["entries"]] == ["Account Created"]
            page = await client.get("/people/u-1")
            assert page.status_code == 200 and 'href="/static/console.css"' in page.text
            assert (await client.get("/static/console.js")).status_code == 200
            assert (await client.get("/openapi.json")).status_code == 200
            typo = await client.post("/v1/trak", auth=(WRITE_KEY, ""), json={})
            assert typo.status_code == 404
    finally:
        store.close()
