"""A tool that was down answers again: the router resumes within seconds, without a herd.

The issue's run: after a 75 s outage, messages sent once the tool was healthy again still waited
p50 21 s and p95 110 s, and the backlog took 232 s to drain, because each retrying message kept
its own long backoff (and a person's new messages waited behind it). Here the same shape runs in
seconds over a real SQLite store and a loopback webhook fake scripted to answer 500: backoffs are
scaled down with the outage (base 2 s, so a retry backs off for up to 4-16 s by the end of a 3 s
outage), and the router must notice the recovery by one probe and pull the backlog forward.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_PLAN
from trackwell.destinations import Webhook
from trackwell.pipeline.accept import accept
from trackwell.pipeline.router import Router
from trackwell.plan import load_plan
from trackwell.quality import compile_plan
from trackwell.store import Store, open_store

from .helpers import HOOK_SECRET, TimedWebhook, percentile, track, wait_until

COMPILED = compile_plan(load_plan(EXAMPLE_PLAN))
OUTAGE_SECONDS = 3.0
AFTER_SECONDS = 2.0
FEED_EVERY = 0.1
PER_FEED = 6
PEOPLE = 60
# The router's knobs, scaled to the test: retries back off like a long outage's would; a down
# tool is probed at 0.1, 0.2, 0.4 s, then every 0.5 s; a recovered backlog is spread over 1 s.
ROUTER: dict[str, Any] = {
    "poll_interval": 0.05,
    "backoff_base": 2.0,
    "backoff_cap": 60.0,
    "probe_base": 0.1,
    "probe_cap": 0.5,
    "resume_window": 1.0,
}


@dataclass
class Outage:
    """What one outage-and-recovery run measured (seconds, on the monotonic clock)."""

    requests_during: int  # requests the tool received while it was down
    drain: float  # from recovery to the last message sent during the outage arriving
    after_p50: float  # latency of messages sent after the recovery
    after_p95: float
    after_max: float
    written: dict[str, float] = field(default_factory=dict)


class Feeder:
    """Writes planned track calls at a steady pace, round-robin over a few people."""

    def __init__(self, store: Store, router: Router) -> None:
        self.store, self.router = store, router
        self.written: dict[str, float] = {}
        self._turn = 0
        self._next: dict[str, int] = {}

    def feed_for(self, seconds: float) -> list[str]:
        ids: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = []
            for _ in range(PER_FEED):
                person = f"p{self._turn % PEOPLE}"
                self._turn += 1
                n = self._next.get(person, 0)
                self._next[person] = n + 1
                batch.append(track("r", person, n))
            results = accept(self.store, COMPILED, batch)
            assert all(r.verdict == "accepted" for r in results), results[0]
            now = time.monotonic()
            for message in batch:
                self.written[message["messageId"]] = now
            ids += [m["messageId"] for m in batch]
            self.router.wake()
            time.sleep(FEED_EVERY)
        return ids


def run_outage(store: Store, router_kwargs: dict[str, Any], *, circuit: bool = True) -> Outage:
    """One outage of OUTAGE_SECONDS, then AFTER_SECONDS of healthy traffic; what it measured.

    `circuit=False` runs the router as it was before the circuit (for the notes' figures)."""
    fake = TimedWebhook().start()
    hook = Webhook("hook", url=fake.url + fake.path, secret=HOOK_SECRET, timeout=5.0)
    router = Router(store, [hook], **router_kwargs)
    if not circuit:
        router._trip = lambda *args: None  # type: ignore[method-assign]
    router.start()
    feeder = Feeder(store, router)
    try:
        feeder.feed_for(0.3)  # healthy: the tool takes everything
        assert wait_until(lambda: len(fake.ids()) == len(feeder.written), 5)
        with fake.lock:
            fake.fail_next(1_000_000, status=500)
            before = len(fake.requests)
        during = feeder.feed_for(OUTAGE_SECONDS)
        with fake.lock:
            fake._faults.clear()
            requests_during = len(fake.requests) - before
        recovered = time.monotonic()
        after = feeder.feed_for(AFTER_SECONDS)
        everything = set(feeder.written)
        assert wait_until(lambda: everything <= set(fake.ids()), 120), "not all delivered"
        latencies = [fake.arrived[i] - feeder.written[i] for i in after]
        return Outage(
            requests_during=requests_during,
            drain=max(fake.arrived[i] for i in during) - recovered,
            after_p50=percentile(latencies, 50),
            after_p95=percentile(latencies, 95),
            after_max=max(latencies),
            written=feeder.written,
        )
    finally:
        router.close()
        fake.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'recovery.db'}")
    try:
        yield opened
    finally:
        opened.close()


def test_a_recovered_tool_gets_new_messages_and_the_backlog_within_seconds_and_no_herd(
    store: Store,
) -> None:
    result = run_outage(store, ROUTER)
    # Noticed by the next probe (at most probe_cap after the recovery), then the backlog in
    # batches over resume_window: new messages are not held behind the retries' own backoffs.
    assert result.after_p95 < 1.5, result
    assert result.after_max < 2.5, result
    assert result.drain < 2.5, result
    # While it was down it got one probe at a time, not a herd. The batch that found it down, the doubling probes up to the cap, then one per cap; without
    # the circuit every poll with new messages sent a batch (about one request per feed).
    doubling = math.ceil(math.log2(ROUTER["probe_cap"] / ROUTER["probe_base"]))
    bound = 1 + doubling + math.ceil(OUTAGE_SECONDS / ROUTER["probe_cap"]) + 1
    assert result.requests_during <= bound, result
