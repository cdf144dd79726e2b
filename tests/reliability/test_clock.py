"""Clocks: a client whose clock is hours off, and a server whose clock steps.

A client's `sentAt` and `timestamp` come from the same (wrong) clock, so their distance is
right: the gateway lands the event at receivedAt minus that distance. The server's clock is
injected into the router (the system clock is never touched): a step forward or back must not
lose, double or stall deliveries for as long as the step.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.test_router import Scripted
from tests.server.conftest import SERVER_KEY, harness
from trackwell.core.messages import format_time, parse_time
from trackwell.core.outcomes import Outcome
from trackwell.pipeline.accept import accept
from trackwell.pipeline.router import RateLimiter, Router
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import DeliveryResult, Store, open_store

from .helpers import track

HOURS_AHEAD = timedelta(hours=3, minutes=17)


def _iso(value: datetime) -> str:
    return format_time(value)


@pytest.mark.anyio
async def test_a_client_clock_hours_off_lands_the_event_at_the_right_time(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        now = datetime.now(UTC)
        ahead = now + HOURS_AHEAD  # the client's clock
        behind = now - timedelta(hours=5)
        single = {
            **track("clock", "ahead", 0),
            "timestamp": _iso(ahead - timedelta(seconds=90)),  # 90 s before it was sent
            "sentAt": _iso(ahead),
        }
        response = await h.client.post("/v1/track", json=single, auth=(SERVER_KEY, ""))
        assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
        batch = {
            "sentAt": _iso(behind),  # a batch-level sentAt applies to every message in it
            "batch": [
                {**track("clock", "behind", n), "timestamp": _iso(behind - timedelta(minutes=n))}
                for n in range(3)
            ],
        }
        response = await h.client.post("/v1/batch", json=batch, auth=(SERVER_KEY, ""))
        assert response.status_code == 200 and response.json()["accepted"] == 3, response.text
        skewed = {**track("clock", "nosent", 0), "timestamp": _iso(ahead)}  # no sentAt
        response = await h.client.post("/v1/track", json=skewed, auth=(SERVER_KEY, ""))
        answer = response.json()
        assert answer["repaired"] == 1 and answer["violations"][0]["code"] == "future_timestamp"

    def stored(mid: str) -> dict[str, Any]:
        entry = h.store.get(mid)
        assert entry is not None and entry.verdict in ("accepted", "repaired"), mid
        return entry.message

    message = stored("clock:ahead:0")
    received = parse_time(message["receivedAt"], "receivedAt")
    action = parse_time(message["timestamp"], "timestamp")
    assert abs((received - action) - timedelta(seconds=90)) < timedelta(milliseconds=5)
    # The client's own action time is kept, for the record.
    assert parse_time(message["originalTimestamp"], "") == ahead - timedelta(seconds=90)
    assert abs(action - (now - timedelta(seconds=90))) < timedelta(seconds=5)
    for n in range(3):
        message = stored(f"clock:behind:{n}")
        received = parse_time(message["receivedAt"], "receivedAt")
        action = parse_time(message["timestamp"], "timestamp")
        assert abs((received - action) - timedelta(minutes=n)) < timedelta(milliseconds=5)
    # Without sentAt the skew cannot be measured: an action time in the future is clamped.
    message = stored("clock:nosent:0")
    assert message["timestamp"] == message["receivedAt"]


class StepClock:
    """Wall time plus an offset the test moves, as an NTP step would move the system clock."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = open_store(f"sqlite:///{tmp_path / 'clock.db'}")
    yield opened
    opened.close()


def _fail_first(failed: set[str]) -> Any:
    def answer(message: Any) -> Outcome:
        mid = str(message["messageId"])
        if mid not in failed:
            failed.add(mid)
            return Outcome("retry", "HTTP 503")
        return Outcome("delivered")

    return answer


def test_a_server_clock_stepping_back_does_not_stall_retries_for_the_step(
    store: Store, example_plan: Plan
) -> None:
    clock = StepClock()
    destination = Scripted("tool", _fail_first(set()))
    router = Router(store, [destination], clock=clock)
    try:
        accept(store, compile_plan(example_plan), [track("step", "p", n) for n in range(3)])
        router.run_once("tool")  # fails: retries scheduled up to 2 s ahead on this clock
        assert destination.ids() == []
        clock.offset = -2 * 3600.0  # the clock steps back two hours
        deadline = time.monotonic() + 5
        while len(destination.ids()) < 3 and time.monotonic() < deadline:
            router.run_once("tool")
            time.sleep(0.05)
        assert destination.ids() == ["step:p:0", "step:p:1", "step:p:2"]
    finally:
        router.close()


def test_a_server_clock_stepping_forward_hands_the_lease_over_without_loss(
    tmp_path: Path, example_plan: Plan
) -> None:
    """Router A's lease looks expired to router B, whose clock jumped an hour ahead: B takes the
    queue while A still holds a batch. A's acks are refused, B re-sends with the same ids."""
    url = f"sqlite:///{tmp_path / 'lease.db'}"
    store_a, store_b = open_store(url), open_store(url)
    received: list[str] = []
    slow = Scripted("tool")
    clock_b = StepClock()
    router_a = Router(store_a, [slow])
    router_b = Router(store_b, [Scripted("tool")], clock=clock_b)
    try:
        accept(store_a, compile_plan(example_plan), [track("lease", "p", n) for n in range(4)])
        batch_a = store_a.claim("tool", 10, int(time.time() * 1000))  # A is mid-batch
        assert len(batch_a) == 4
        assert router_b.run_once("tool") == 0  # A's lease holds on B's (still right) clock
        clock_b.offset = 3600.0
        assert router_b.run_once("tool") == 4  # B's clock says A's lease ran out
        received += [str(d.message["messageId"]) for d in batch_a]  # A's send reached the tool
        received += router_b.destinations["tool"].ids()  # type: ignore[attr-defined]
        # A finishes its batch and acks it: it is not the owner any more, so that ack is not
        # counted (the tool de-duplicates A's copies by id), and A claims nothing more.
        store_a.ack(
            "tool",
            [DeliveryResult(d.seq, "delivered") for d in batch_a],
            int(time.time() * 1000),
        )
        assert router_a.run_once("tool") == 0
        stats = store_a.delivery_stats(int(time.time() * 1000))[0]
        assert stats.pending == 0 and stats.retry == 0 and stats.delivered == 4
    finally:
        router_a.close()
        router_b.close()
        store_a.close()
        store_b.close()
    assert sorted(set(received)) == [f"lease:p:{n}" for n in range(4)]  # each one, by id


def test_the_rate_limiter_runs_on_a_clock_that_never_steps() -> None:
    assert RateLimiter(10.0)._clock is time.monotonic
    # Fed a clock that steps back an hour, it would wait an hour: which is why it must not be.
    now = [1000.0]
    stepped = RateLimiter(10.0, clock=lambda: now[0])
    stepped.delay(10)
    now[0] -= 3600
    assert stepped.delay(1) > 3000
