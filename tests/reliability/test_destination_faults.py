"""A destination that is down, answers 500s, answers 429 with Retry-After, hangs, resets
connections, or answers 200 reporting a partial failure, while another stays healthy.

One router delivers to both over real HTTP (loopback fakes). Each test runs a baseline phase
(both tools fine) and a fault phase in the same run and compares the healthy tool's p95
delivery latency: a fault next door must not make it grow (no head-of-line blocking). Then the
fault clears and the ledger must hold for both tools. (Per-destination classification of each
fault is tests/destinations/test_faults.py; a scripted in-memory hang, tests/pipeline.)
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_PLAN
from tests.fakes.customerio import FakeCustomerIO
from tests.fakes.server import Received, Reply
from trackwell.destinations import CustomerIO, Webhook
from trackwell.pipeline.accept import accept
from trackwell.pipeline.router import Router
from trackwell.plan import load_plan
from trackwell.quality import compile_plan
from trackwell.store import Store, open_store

from .helpers import (
    HOOK_SECRET,
    Ledger,
    TimedWebhook,
    message_id,
    percentile,
    track,
    wait_until,
)

PHASE_SECONDS = 1.6
FEED_EVERY = 0.05
PER_FEED = 12
PEOPLE = 24
TIMEOUT = 0.5  # the faulty tool's read timeout


class PartialCustomerIO(FakeCustomerIO):
    """Customer.io's v2 batch; with `partial` on, it ingests every operation but the first and
    answers 200 with `errors[].batch_index` naming the one it refused."""

    def __init__(self) -> None:
        super().__init__()
        self.partial = False
        self.refused: list[dict[str, Any]] = []

    def _batch(self, request: Received, body: dict[str, Any]) -> Reply:
        operations = body.get("batch")
        if not self.partial or not isinstance(operations, list) or not operations:
            return super()._batch(request, body)
        self.refused.append(operations[0])
        errors: list[dict[str, Any]] = []
        if len(operations) > 1:
            rest = super()._batch(request, {**body, "batch": operations[1:]})
            for error in (rest.body or {}).get("errors", []):
                errors.append({**error, "batch_index": error["batch_index"] + 1})
        errors.append({"batch_index": 0, "reason": "invalid", "message": "scripted refusal"})
        return Reply(200, {"errors": errors})


def cio_id(operation: dict[str, Any]) -> str:
    """The test's messageId of a Customer.io event operation (person + usage_count)."""
    person = operation.get("person") or operation["identifiers"]["id"]
    return message_id("f", person, int(operation["attributes"]["usage_count"]) - 1)


@dataclass
class Rig:
    store: Store
    router: Router
    healthy: TimedWebhook
    faulty_fake: PartialCustomerIO
    faulty: CustomerIO
    refused_url: str
    ledger: Ledger = field(default_factory=Ledger)
    written: dict[str, float] = field(default_factory=dict)
    offset: list[float] = field(default_factory=lambda: [0.0])
    _next: dict[str, int] = field(default_factory=dict)

    def feed_for(self, seconds: float) -> list[str]:
        """Write batches at a steady pace; the ids written."""
        compiled = COMPILED
        ids: list[str] = []
        deadline = time.monotonic() + seconds
        turn = 0
        while time.monotonic() < deadline:
            batch = []
            for _ in range(PER_FEED):
                person = f"f{turn % PEOPLE}"
                turn += 1
                n = self._next.get(person, 0)
                self._next[person] = n + 1
                batch.append(track("f", person, n))
            results = accept(self.store, compiled, batch)
            assert all(r.verdict == "accepted" for r in results), results[0]
            now = time.monotonic()
            for message in batch:
                self.written[message["messageId"]] = now
            ids += [m["messageId"] for m in batch]
            self.router.wake()
            time.sleep(FEED_EVERY)
        self.ledger.add(ids)
        return ids

    def healthy_p95(self, ids: list[str]) -> float:
        assert wait_until(lambda: all(i in self.healthy.arrived for i in ids), 10), (
            "the healthy tool did not get a phase's messages within 10 s"
        )
        return percentile([self.healthy.arrived[i] - self.written[i] for i in ids], 95)

    def faulty_ids(self) -> list[str]:
        with self.faulty_fake.lock:
            return [cio_id(event) for event in self.faulty_fake.events]

    def refused_ids(self) -> list[str]:
        with self.faulty_fake.lock:
            return [cio_id(op) for op in self.faulty_fake.refused]


COMPILED = compile_plan(load_plan(EXAMPLE_PLAN))


@pytest.fixture
def rig(tmp_path: Path, refused_url: str) -> Iterator[Rig]:
    store = open_store(f"sqlite:///{tmp_path / 'faults.db'}")
    healthy_fake = TimedWebhook().start()
    faulty_fake = PartialCustomerIO().start()
    healthy = Webhook(
        "healthy", url=healthy_fake.url + healthy_fake.path, secret=HOOK_SECRET, timeout=5.0
    )
    faulty = CustomerIO(
        "faulty",
        site_id=faulty_fake.site_id,
        api_key=faulty_fake.api_key,
        base_url=faulty_fake.url,
        timeout=TIMEOUT,
        batch_size=50,
    )
    offset = [0.0]
    # The router's clock, which the test moves forward once a fault is over so that retries
    # backed off for seconds come due at once (their order and count are what is checked).
    router = Router(
        store, [healthy, faulty], poll_interval=0.05, clock=lambda: time.time() + offset[0]
    )
    router.start()
    made = Rig(store, router, healthy_fake, faulty_fake, faulty, refused_url, offset=offset)
    try:
        yield made
    finally:
        router.close()
        healthy_fake.stop()
        faulty_fake.stop()
        store.close()


@pytest.fixture
def refused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _down(rig: Rig) -> Callable[[], None]:
    rig.faulty.base_url = rig.refused_url  # connection refused
    return lambda: setattr(rig.faulty, "base_url", rig.faulty_fake.url)


def _scripted(start: Callable[[PartialCustomerIO], None]) -> Callable[[Rig], Callable[[], None]]:
    def begin(rig: Rig) -> Callable[[], None]:
        start(rig.faulty_fake)

        def end() -> None:
            with rig.faulty_fake.lock:
                rig.faulty_fake._faults.clear()

        return end

    return begin


def _partial(rig: Rig) -> Callable[[], None]:
    rig.faulty_fake.partial = True
    return lambda: setattr(rig.faulty_fake, "partial", False)


FAULTS: dict[str, Callable[[Rig], Callable[[], None]]] = {
    "down": _down,
    "500s": _scripted(lambda f: f.fail_next(10_000, status=500)),
    "429 Retry-After": _scripted(lambda f: f.fail_next(10_000, status=429, retry_after="1")),
    "hang": _scripted(lambda f: f.hang_next(10_000, seconds=3 * TIMEOUT)),
    "connection reset": _scripted(lambda f: f.close_next(10_000)),
    "200 partial failure": _partial,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulty_destination_does_not_slow_a_healthy_one(rig: Rig, fault: str) -> None:
    baseline_ids = rig.feed_for(PHASE_SECONDS)
    baseline = rig.healthy_p95(baseline_ids)
    assert wait_until(lambda: set(baseline_ids) <= set(rig.faulty_ids()), 10)
    requests_before = len(rig.faulty_fake.requests)

    end = FAULTS[fault](rig)
    fault_ids = rig.feed_for(PHASE_SECONDS)
    during = rig.healthy_p95(fault_ids)
    end()
    assert len(rig.faulty_fake.requests) > requests_before or fault == "down"
    stats = {s.destination: s for s in rig.store.delivery_stats(int(time.time() * 1000))}
    if fault != "200 partial failure":
        assert stats["faulty"].last_error, "the fault never reached the faulty destination"

    # The healthy tool's latency did not grow with a broken neighbour (2 cores, shared with
    # the fakes: a margin of 2x + 50 ms; head-of-line blocking costs >= 500 ms here).
    assert during <= max(2 * baseline, baseline + 0.05), (
        f"{fault}: healthy p95 {during * 1000:.0f} ms with the fault, {baseline * 1000:.0f} ms without"
    )

    # Recovery: backed-off retries come due, everything flows; the ledger holds for both tools.
    rig.offset[0] += 3600.0
    rig.router.wake()
    t0 = time.monotonic()
    refused = set(rig.refused_ids())
    acked = rig.ledger.snapshot()
    assert wait_until(lambda: acked <= set(rig.faulty_ids()) | refused, 20), (
        f"{fault}: {len(acked - set(rig.faulty_ids()) - refused)} never reached the faulty tool"
    )
    print("RECOVERY", fault, time.monotonic() - t0, baseline, during)
    rig.ledger.check_delivered(rig.healthy.ids())
    rig.ledger.check_delivered(rig.faulty_ids(), dead=refused)
    stats = {s.destination: s for s in rig.store.delivery_stats(int(time.time() * 1000))}
    assert stats["faulty"].dead == len(refused)
    if fault == "200 partial failure":
        assert refused, "the tool refused nothing"
        assert (stats["faulty"].last_error or "").startswith("Customer.io: scripted refusal")
    assert rig.healthy.duplicates == 0  # the healthy tool never got a re-send
    assert stats["healthy"].retry == stats["healthy"].dead == stats["healthy"].waiting == 0
