"""Backpressure: above the high-water mark the gateway answers 429, and takes writes again after."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SERVER_KEY, TRACK, Recording, harness

pytestmark = pytest.mark.anyio


async def test_429_above_the_high_water_mark_then_accepting_again_once_drained(
    tmp_path: Path,
) -> None:
    destination = Recording()
    async with harness(tmp_path, destinations=[destination], router=False, high_water=50) as h:
        # The poller is stopped so the count is exact: a poll that overlaps a write counts that
        # write twice until the next poll (on purpose, never missed), which would refuse a batch
        # early here.
        h.gateway.backlog.stop()
        h.gateway.backlog.refresh()
        accepted: list[str] = []
        refused = 0
        for n in range(10):
            batch = [{**TRACK, "messageId": f"bp-{n}-{i}"} for i in range(20)]
            response = await h.client.post(
                "/v1/batch", json={"batch": batch}, auth=(SERVER_KEY, "")
            )
            if response.status_code == 200:
                accepted += [m["messageId"] for m in batch]
            else:
                assert response.status_code == 429
                assert int(response.headers["Retry-After"]) > 0
                assert "high-water" in response.json()["message"]
                refused += 1
        assert refused > 0 and len(accepted) >= 50
        assert h.store.count() == len(accepted)  # a 429 stored nothing
        ready = await h.client.get("/readyz")
        assert ready.status_code == 503 and "backlog" in ready.text

        assert h.gateway.router is not None
        h.gateway.router.drain(destination.name)
        h.gateway.backlog.refresh()
        again = await h.client.post(
            "/v1/batch", json={"batch": [{**TRACK, "messageId": "after"}]}, auth=(SERVER_KEY, "")
        )
        assert again.status_code == 200
        assert (await h.client.get("/readyz")).status_code == 200
        h.gateway.router.drain(destination.name)
        delivered = {m["messageId"] for m in destination.received}
        assert delivered == {*accepted, "after"}  # nothing accepted was lost
