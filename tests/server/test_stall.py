"""No one client can stall ingestion: a batch of thousands of invented names leaves others served."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from trackwell.server.ingest import MAX_NEW_SUGGESTIONS

from .conftest import SERVER_KEY, TRACK, harness

pytestmark = pytest.mark.anyio

HOSTILE_NAMES = 2000


def hostile_batch(round_: int) -> dict[str, Any]:
    """2,000 distinct unplanned names (new every round, so no cache helps), ~450 KB."""
    return {
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": f"Acount Createdd {round_} {i} " + "x" * 120,
                "timestamp": "2026-01-05T10:00:00Z",
            }
            for i in range(HOSTILE_NAMES)
        ]
    }


async def test_a_batch_of_invented_names_does_not_stall_a_normal_client(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        auth = (SERVER_KEY, "")

        async def normal(count: int) -> list[float]:
            took = []
            for _ in range(count):
                started = time.perf_counter()
                answer = await h.client.post("/v1/track", json=TRACK, auth=auth)
                took.append(time.perf_counter() - started)
                assert answer.status_code == 200
                await asyncio.sleep(0.005)
            return took

        alone = await normal(30)
        stop = asyncio.Event()
        hostile_answers: list[dict[str, Any]] = []

        async def hostile() -> None:
            round_ = 0
            while not stop.is_set():
                answer = await h.client.post("/v1/batch", json=hostile_batch(round_), auth=auth)
                assert answer.status_code == 200
                hostile_answers.append(answer.json())
                round_ += 1

        attacker = asyncio.create_task(hostile())
        await asyncio.sleep(0.05)  # the first hostile batch is being prepared
        loaded = await normal(30)
        stop.set()
        await attacker

    assert hostile_answers, "the hostile batch was never answered"
    assert hostile_answers[0]["blocked"] == HOSTILE_NAMES
    base, under = statistics.median(alone), statistics.median(loaded)
    # Unbounded, one hostile batch held the event loop for seconds (every normal request behind
    # it waited that long); bounded, the normal client stays within a small multiple.
    assert under < max(10 * base, 0.25), (base, under)
    assert max(loaded) < 2.0, sorted(loaded)[-3:]


def near_misses(count: int) -> list[str]:
    """Distinct names, each one letter away from a planned event (so each has a suggestion)."""
    planned = [
        "Subscription Started",
        "Subscription Cancelled",
        "Onboarding Completed",
        "Trial Started",
    ]
    found = []
    for name in planned:
        for i, letter in enumerate(name):
            if letter.isalpha() and letter.lower() != "z":
                found.append(name[:i] + "z" + name[i + 1 :])
    assert len(found) >= count
    return found[:count]


async def test_a_request_searches_for_few_new_names(tmp_path: Path) -> None:
    """Beyond the per-request budget, new names go without a suggestion; seen ones keep theirs."""
    names = near_misses(60)
    batch = {
        "batch": [
            {"type": "track", "userId": "u", "event": name, "timestamp": "2026-01-05T10:00:00Z"}
            for name in names
        ]
    }
    async with harness(tmp_path) as h:
        first = (await h.client.post("/v1/batch", json=batch, auth=(SERVER_KEY, ""))).json()
        again = (await h.client.post("/v1/batch", json=batch, auth=(SERVER_KEY, ""))).json()

    def suggested(body: dict[str, Any]) -> list[str | None]:
        found = [v for v in body["violations"] if v["code"] == "unplanned_event"]
        assert len(found) == len(names)
        return [v.get("suggestion") for v in found]

    assert first["blocked"] == again["blocked"] == len(names)
    # The first request searched for its first names only; the second found those remembered
    # and searched for as many new ones.
    assert sum(s is not None for s in suggested(first)) == MAX_NEW_SUGGESTIONS
    assert sum(s is not None for s in suggested(again)) == 2 * MAX_NEW_SUGGESTIONS
    assert suggested(first)[0] == "Subscription Started"
    without = next(v for v in first["violations"] if v.get("suggestion") is None)
    assert "did you mean" not in without["message"]
