"""The router: retry decisions, rate limit, ordering per person, and no head-of-line blocking."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from trackwell.core.messages import WireMessage
from trackwell.core.outcomes import Outcome
from trackwell.destinations.base import Destination, Outgoing, Prepared
from trackwell.destinations.http import HttpRequest
from trackwell.pipeline import accept
from trackwell.pipeline.router import RateLimiter, Router, batch_health, results_for
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import Delivery, DeliveryResult, Store, open_store


class Scripted(Destination):
    """A destination whose answers a test decides, message by message."""

    kind = "scripted"

    def __init__(
        self, name: str, answer: Callable[[WireMessage], Outcome] | None = None, delay: float = 0.0
    ) -> None:
        super().__init__(name, transport=None, batch_size=50)
        self.answer = answer or (lambda m: Outcome("delivered"))
        self.delay = delay
        self.received: list[WireMessage] = []
        self.lock = threading.Lock()

    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        return Prepared(
            [Outgoing(HttpRequest("POST", "memory://", {}), tuple(range(len(messages))))]
        )

    def deliver(self, messages: Sequence[WireMessage]) -> list[Outcome]:
        if self.delay:
            time.sleep(self.delay)
        outcomes = [self.answer(m) for m in messages]
        with self.lock:
            self.received.extend(
                m for m, o in zip(messages, outcomes, strict=True) if o.kind == "delivered"
            )
        return outcomes

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["messageId"]) for m in self.received]


def delivery(seq: int, attempts: int = 0) -> Delivery:
    return Delivery("d", seq, {"messageId": f"m{seq}"}, attempts)


def test_results_for_table() -> None:
    batch = [delivery(1), delivery(2), delivery(3, attempts=11), delivery(4), delivery(5)]
    outcomes = [
        Outcome("delivered"),
        Outcome("dead", "HTTP 400: bad name"),
        Outcome("retry", "HTTP 503"),
        Outcome("retry", "HTTP 429", retry_after=30.0),
        Outcome("retry", "no response (timeout)"),
    ]
    results = results_for(batch, outcomes, now=1000.0, max_attempts=12)
    assert [r.outcome for r in results] == ["delivered", "dead", "dead", "retry", "retry"]
    assert results[1].error == "HTTP 400: bad name"
    assert results[2].error is not None and results[2].error.startswith("gave up after 12 attempts")
    assert results[3].next_attempt_ms == 1_030_000
    assert (
        results[4].next_attempt_ms is not None
        and 1_000_000 <= results[4].next_attempt_ms <= 1_002_000
    )


def test_results_for_a_probe_sent_ahead_of_schedule_spends_no_attempt() -> None:
    batch = [delivery(1, attempts=11), delivery(2, attempts=11)]
    outcomes = [Outcome("retry", "HTTP 503"), Outcome("retry", "HTTP 503")]
    probe, due = results_for(batch, outcomes, now=1000.0, max_attempts=12, uncounted=frozenset({1}))
    assert (probe.outcome, probe.counted) == ("retry", False)
    assert (due.outcome, due.counted) == ("dead", True)


def test_results_for_takes_the_routers_backoff() -> None:
    [result] = results_for(
        [delivery(1, attempts=3)],
        [Outcome("retry", "HTTP 503")],
        now=1000.0,
        backoff_base=0.01,
        backoff_cap=0.05,
    )
    assert result.next_attempt_ms is not None and 1_000_000 <= result.next_attempt_ms <= 1_000_050


def test_batch_health_table() -> None:
    retry, ok = Outcome("retry", "HTTP 503"), Outcome("delivered")
    assert batch_health([retry, retry]) == "failed"
    assert batch_health([retry, ok]) == "answered"
    assert batch_health([retry, Outcome("dead", "HTTP 400")]) == "answered"
    assert batch_health([Outcome("captured", "capture mode")]) == "unknown"
    assert batch_health([]) == "unknown"


def test_results_for_keeps_captured_apart_from_delivered() -> None:
    note = "capture mode: recorded, not sent to the tool"
    (result,) = results_for([delivery(1, attempts=11)], [Outcome("captured", note)], now=1000.0)
    # Settled as captured (never "gave up", never delivered), with the note for people to read.
    assert (result.outcome, result.error, result.next_attempt_ms) == ("captured", note, None)


def test_rate_limiter() -> None:
    now = [0.0]
    limiter = RateLimiter(10.0, clock=lambda: now[0])
    assert limiter.delay(10) == 0.0
    assert limiter.delay(5) == pytest.approx(0.5)
    now[0] = 10.0
    assert limiter.delay(5) == 0.0
    assert RateLimiter(None).delay(10_000) == 0.0


def seed(store: Store, plan: Plan, messages: list[dict[str, Any]]) -> None:
    accept(store, compile_plan(plan), messages)


def track(user: str, n: int) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": "Feature Used",
        "properties": {"feature_name": "projects"},
        "messageId": f"{user}-{n}",
    }


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    yield opened
    opened.close()


def identify(user: str) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user,
        "traits": {"email": f"{user}@example.com"},
        "messageId": f"{user}-0",
    }


def test_events_after_an_identify_wait_while_it_retries(store: Store, example_plan: Plan) -> None:
    failed_once: set[str] = set()

    def answer(message: WireMessage) -> Outcome:
        mid = str(message["messageId"])
        if mid == "alice-0" and mid not in failed_once:
            failed_once.add(mid)
            return Outcome("retry", "HTTP 503", retry_after=0.0)
        return Outcome("delivered")

    destination = Scripted("cio", answer)
    router = Router(store, [destination])
    seed(
        store,
        example_plan,
        [identify("alice"), track("bob", 0), track("alice", 1), track("alice", 2)],
    )
    router.run_once("cio")  # alice's identify and bob: the identify fails; alice's events wait
    assert destination.ids() == ["bob-0"]
    time.sleep(0.01)
    router.drain("cio")
    assert destination.ids() == ["bob-0", "alice-0", "alice-1", "alice-2"]
    router.close()


def test_a_dead_message_does_not_block_the_person(store: Store, example_plan: Plan) -> None:
    destination = Scripted(
        "cio",
        lambda m: Outcome("dead", "HTTP 400") if m["messageId"] == "u-0" else Outcome("delivered"),
    )
    router = Router(store, [destination])
    seed(store, example_plan, [track("u", 0), track("u", 1)])
    router.drain("cio")
    assert destination.ids() == ["u-1"]
    stats = {s.destination: s for s in store.delivery_stats(int(time.time() * 1000))}
    assert stats["cio"].dead == 1 and stats["cio"].last_error == "HTTP 400"
    router.close()


def test_a_hanging_destination_does_not_delay_a_healthy_one(
    store: Store, example_plan: Plan
) -> None:
    slow = Scripted("slow", delay=3.0)
    fast = Scripted("fast")
    router = Router(store, [slow, fast], poll_interval=0.05)
    router.start()
    seed(store, example_plan, [track(f"user{i}", 0) for i in range(200)])
    router.wake()
    started = time.monotonic()
    while len(fast.ids()) < 200 and time.monotonic() - started < 10:
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    assert len(fast.ids()) == 200
    assert elapsed < 2.0  # the slow one is still inside its first 3-second batch
    router.close()


def test_retry_after_pauses_the_whole_destination(store: Store, example_plan: Plan) -> None:
    calls: list[float] = []

    def answer(message: WireMessage) -> Outcome:
        calls.append(time.monotonic())
        return (
            Outcome("retry", "HTTP 429", retry_after=0.5)
            if len(calls) == 1
            else Outcome("delivered")
        )

    destination = Scripted("cio", answer)
    destination.batch_size = 1
    router = Router(store, [destination], poll_interval=0.05)
    seed(store, example_plan, [track("a", 0), track("b", 0)])
    router.start()
    router.wake()
    deadline = time.monotonic() + 5
    while len(destination.ids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    router.close()
    assert sorted(destination.ids()) == ["a-0", "b-0"]
    assert calls[1] - calls[0] >= 0.45  # nothing was sent to it during the advertised wait


def test_messages_stored_before_a_destination_existed_are_not_sent_to_it(
    store: Store, example_plan: Plan
) -> None:
    seed(store, example_plan, [track("old", 0)])
    destination = Scripted("new")
    router = Router(store, [destination])
    seed(store, example_plan, [track("later", 0)])
    router.drain("new")
    assert destination.ids() == ["later-0"]
    router.close()


def test_a_wall_clock_step_back_does_not_stretch_a_retry_after_pause(
    store: Store, example_plan: Plan
) -> None:
    offset = [0.0]
    calls: list[float] = []

    def answer(message: WireMessage) -> Outcome:
        calls.append(time.monotonic())
        if len(calls) == 1:
            # The server clock steps back two hours while the pause is running.
            threading.Timer(0.1, lambda: offset.__setitem__(0, -7200.0)).start()
            return Outcome("retry", "HTTP 429", retry_after=0.3)
        return Outcome("delivered")

    destination = Scripted("cio", answer)
    destination.batch_size = 1
    router = Router(store, [destination], poll_interval=0.05, clock=lambda: time.time() + offset[0])
    seed(store, example_plan, [track("a", 0), track("b", 0)])
    router.start()
    router.wake()
    deadline = time.monotonic() + 5
    while len(destination.ids()) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    router.close()
    assert destination.ids(), "the destination stayed paused after the clock stepped back"
    assert calls[1] - calls[0] >= 0.25


def test_consent_decisions_are_settled_or_held_without_spending_an_attempt() -> None:
    batch = [Delivery("d", 1, {}, 3), Delivery("d", 2, {}, 0)]
    outcomes = [Outcome("no_consent", "no consent for ads"), Outcome("held", "no information")]
    refused, held = results_for(batch, outcomes, 100.0, hold_seconds=30.0)
    assert refused == DeliveryResult(1, "no_consent", error="no consent for ads", counted=False)
    assert held == DeliveryResult(2, "held", 130_000, "no information", counted=False)
