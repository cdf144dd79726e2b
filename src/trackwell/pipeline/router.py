"""The router: one worker per destination moving messages from the store's queues to the tools.

Each destination has its own thread, so one that is down, slow or rate-limited never delays
the others. A worker claims a batch, hands it to the destination, and acks per message:
delivered, captured (a destination in capture mode recorded it and sent nothing), retry (with
exponential backoff and full jitter, or the tool's Retry-After), or dead (after the tool refused
it, or after `max_attempts`).

A worker also keeps a circuit per destination. A batch that only fails opens it: from then on
the worker sends one message at a time, at growing intervals (capped at `probe_cap` seconds),
instead of a batch of every new message each poll. The first answer that shows the tool is back
closes it, and the retries that their own backoff would still hold for minutes are pulled
forward, spread over `resume_window` seconds, so a recovered tool gets its backlog — and the
messages waiting behind it — within seconds rather than when each backoff runs out.

Privacy comes first. Each pass of a worker hands its destination's due privacy jobs (erase,
suppress, unsuppress) to the tool before any delivery (`pipeline/privacy.py`), and every claimed
batch is screened against the store's marks before it is sent: a message whose person was
erased or is suppressed is withheld — settled `dead` with the reason, never sent, never counted
as delivered. That covers a batch claimed just before an erase and a router that was down
during one; new messages of such a person are dropped at the edge and never queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

from trackwell.core.messages import parse_time
from trackwell.core.outcomes import Outcome
from trackwell.core.privacy import MarkKind
from trackwell.core.ratelimit import TokenBucket
from trackwell.destinations.base import Destination
from trackwell.pipeline.privacy import PrivacyWorker
from trackwell.pipeline.retry import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    RetryPolicy,
)
from trackwell.store.base import Delivery, DeliveryResult, Privacy, Queues, StoreError

log = logging.getLogger("trackwell.router")

DEFAULT_POLL_SECONDS = 0.2
STORE_RETRY_SECONDS = 1.0
# A tool that looks down gets one message at a time, first after PROBE_BASE_SECONDS, then at
# doubling intervals up to PROBE_CAP_SECONDS: how late a recovery can be noticed.
PROBE_BASE_SECONDS = 0.5
PROBE_CAP_SECONDS = 5.0
# Once it answers again, the retries backed off for later are spread over this window.
RESUME_WINDOW_SECONDS = 5.0
# How often an idle worker looks for privacy jobs (claiming them takes the store's write lock,
# so not at every poll); `drain()` always looks.
PRIVACY_POLL_SECONDS = 1.0
# What a withheld message is settled with: `dead` (no new outcome kind), with the reason.
WITHHELD: Final[dict[MarkKind, str]] = {
    "erased": "withheld: the person was erased",
    "suppressed": "withheld: the person is suppressed",
}


class RoutedStore(Queues, Privacy, Protocol):
    """What the router needs of a store: the delivery queues, and the privacy marks and jobs."""


@dataclass
class DestinationCounters:
    """What one worker has done since it started, for metrics and monitors."""

    delivered: int = 0
    captured: int = 0  # recorded in capture mode, never sent
    retried: int = 0
    dead: int = 0
    withheld: int = 0  # not sent: the person was erased or is suppressed (settled dead)
    privacy_jobs: int = 0  # privacy requests handed to the tool
    batches: int = 0
    # Seconds from receivedAt to acknowledgement of recently delivered messages.
    latencies: list[float] = field(default_factory=list)
    paused_until: float = 0.0  # time.monotonic() until which the tool asked us to wait
    last_error: str | None = None


@dataclass
class Circuit:
    """Whether a destination's tool looks down, and when to send it the next single probe."""

    failures: int = 0  # batches in a row that only failed
    next_probe: float = 0.0  # time.monotonic() of the next probe while open

    @property
    def open(self) -> bool:
        """True while the tool looks down."""
        return self.failures > 0


def batch_health(outcomes: Sequence[Outcome]) -> Literal["answered", "failed", "unknown"]:
    """Whether a batch shows the tool up ("answered": it delivered or refused something), down
    ("failed": every message must be retried) or neither (everything captured, nothing sent)."""
    if any(o.kind in ("delivered", "dead") for o in outcomes):
        return "answered"
    if outcomes and all(o.kind == "retry" for o in outcomes):
        return "failed"
    return "unknown"


# The router's name for the bucket it paces each destination with, kept for importers.
RateLimiter = TokenBucket


def results_for(
    batch: Sequence[Delivery],
    outcomes: Sequence[Outcome],
    now: float,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_base: float = BACKOFF_BASE_SECONDS,
    backoff_cap: float = BACKOFF_CAP_SECONDS,
    uncounted: frozenset[int] = frozenset(),
) -> list[DeliveryResult]:
    """The store's per-message results from a destination's outcomes (pure, tested as a table).

    A message in `uncounted` was sent as a probe ahead of its own schedule: a failure does not
    spend one of its attempts, so probing a down tool can never be what makes a message dead.
    """
    policy = RetryPolicy(max_attempts, backoff_base, backoff_cap)
    results = []
    for delivery, outcome in zip(batch, outcomes, strict=True):
        if outcome.kind == "delivered":
            results.append(DeliveryResult(delivery.seq, "delivered"))
            continue
        if outcome.kind == "captured":
            # Settled without reaching the tool: its own state, never delivered, replayable.
            results.append(DeliveryResult(delivery.seq, "captured", error=outcome.error))
            continue
        counted = delivery.seq not in uncounted
        attempts = delivery.attempts + (1 if counted else 0)
        decision = policy.after(outcome, attempts, counted=counted)
        if decision.dead:
            results.append(DeliveryResult(delivery.seq, "dead", error=decision.reason))
            continue
        results.append(
            DeliveryResult(
                delivery.seq,
                "retry",
                int((now + decision.wait) * 1000),
                decision.reason,
                counted=counted,
            )
        )
    return results


class Router:
    """Runs a worker thread per destination over one store."""

    def __init__(
        self,
        store: RoutedStore,
        destinations: Sequence[Destination],
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        poll_interval: float = DEFAULT_POLL_SECONDS,
        clock: Callable[[], float] = time.time,
        on_error: Callable[[str, Exception], None] | None = None,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        backoff_cap: float = BACKOFF_CAP_SECONDS,
        probe_base: float = PROBE_BASE_SECONDS,
        probe_cap: float = PROBE_CAP_SECONDS,
        resume_window: float = RESUME_WINDOW_SECONDS,
    ) -> None:
        names = [d.name for d in destinations]
        if len(set(names)) != len(names):
            raise ValueError(f"destination names must be unique: {names}")
        self.store = store
        self.destinations = {d.name: d for d in destinations}
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self.clock = clock
        self.on_error = on_error
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.probe_base = probe_base
        self.probe_cap = probe_cap
        self.resume_window = resume_window
        self.circuits = {name: Circuit() for name in self.destinations}
        self.counters = {name: DestinationCounters() for name in self.destinations}
        self._limiters = {d.name: TokenBucket(d.rate_limit) for d in destinations}
        # Privacy requests are retried like deliveries, with the same policy.
        self.privacy = PrivacyWorker(
            store,
            destinations,
            policy=RetryPolicy(max_attempts, backoff_base, backoff_cap),
            clock=clock,
            on_error=self._report,
        )
        self._privacy_due = dict.fromkeys(self.destinations, 0.0)  # time.monotonic() of next look
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        for destination in destinations:
            store.register_destination(destination.name, destination.filter)

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start one worker thread per destination."""
        if self._threads:
            return
        self._stop.clear()
        for name in self.destinations:
            thread = threading.Thread(
                target=self._loop, args=(name,), name=f"trackwell-route-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def restart_after_fork(self) -> None:
        """In a forked child: the parent's threads did not come along; start fresh ones."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads = []
        self.start()

    def wake(self) -> None:
        """New messages are in the store: stop waiting for the poll interval."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the workers after their current batch and give the queues back."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        for name in self.destinations:
            try:
                self.store.release(name)
            except StoreError as exc:
                self._report(name, exc)

    def close(self) -> None:
        """Stop, then close every destination's connections."""
        self.stop()
        for destination in self.destinations.values():
            destination.close()

    def _loop(self, name: str) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once(name)
            except StoreError as exc:
                self._report(name, exc)
                self._stop.wait(STORE_RETRY_SECONDS)
                continue
            if handled == 0:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def drain(self, name: str) -> int:
        """Deliver batches for one destination until nothing is due; returns how many were handled."""
        total = 0
        while (handled := self.run_once(name, paced=False)) > 0:
            total += handled
        return total

    # -- one batch ---------------------------------------------------------------------------

    def run_once(self, name: str, *, paced: bool = True) -> int:
        """Claim, deliver and ack one batch for one destination; returns how many were handled.

        `paced=False` (drain) leaves the circuit out: one pass over what is due, full batches.
        """
        destination = self.destinations[name]
        counters = self.counters[name]
        # An erase reaches the tool before anything else does; its jobs keep their own
        # schedule, so a pause or an open circuit below does not hold them.
        jobs = 0
        if not paced or time.monotonic() >= self._privacy_due[name]:
            jobs = self.privacy.run_once(name)
            counters.privacy_jobs += jobs
            # More may be due at once; when none was, look again after the interval.
            self._privacy_due[name] = time.monotonic() + (0.0 if jobs else PRIVACY_POLL_SECONDS)
        return jobs + self._deliver_once(name, destination, counters, paced)

    def _deliver_once(
        self, name: str, destination: Destination, counters: DestinationCounters, paced: bool
    ) -> int:
        now = self.clock()
        waiting = counters.paused_until - time.monotonic()
        if waiting > 0:
            # The tool asked us to wait (429 Retry-After): send nothing to it until then. The
            # pause runs on the monotonic clock, so a wall-clock step cannot stretch it.
            self._stop.wait(min(waiting, self.poll_interval))
            return 0
        circuit = self.circuits[name] if paced else Circuit()
        pulled: frozenset[int] = frozenset()
        if circuit.open:
            waiting = circuit.next_probe - time.monotonic()
            if waiting > 0:
                self._stop.wait(min(waiting, self.poll_interval))
                return 0
            # One message tells whether the tool is back as well as a batch would. When no
            # retry is due, the oldest one is brought forward for it (not spending an attempt).
            pulled = frozenset(self.store.pull_forward(name, int(now * 1000), window_ms=0, limit=1))
        size = 1 if circuit.open else destination.batch_size
        claimed = self.store.claim(name, size, int(now * 1000))
        if not claimed:
            return 0
        # Screened after the claim, just before sending: an erase or a suppression that came
        # while the batch was claimed (or while this router was down) is seen here.
        marks = self.store.screen([d.message for d in claimed])
        batch = [d for d, mark in zip(claimed, marks, strict=True) if mark is None]
        withheld = [
            DeliveryResult(d.seq, "dead", error=WITHHELD[mark])
            for d, mark in zip(claimed, marks, strict=True)
            if mark is not None
        ]
        outcomes: list[Outcome] = []
        if batch:
            pause = self._limiters[name].delay(len(batch))
            if pause > 0:
                self._stop.wait(pause)
            try:
                outcomes = destination.deliver([d.message for d in batch])
            except Exception as exc:  # a bug in a mapping must not kill the worker or lose messages
                self._report(name, exc)
                outcomes = [Outcome("retry", f"destination error: {type(exc).__name__}")] * len(
                    batch
                )
        now = self.clock()
        results = results_for(
            batch,
            outcomes,
            now,
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            uncounted=pulled,
        )
        self.store.ack(name, [*results, *withheld], int(now * 1000))
        counters.withheld += len(withheld)
        self._count(counters, batch, results, outcomes, now)
        self._trip(name, circuit, outcomes, now)
        return len(claimed)

    def _trip(self, name: str, circuit: Circuit, outcomes: Sequence[Outcome], now: float) -> None:
        """Open the circuit on a batch that only failed; close it on one the tool answered."""
        health = batch_health(outcomes)
        if health == "failed":
            circuit.failures += 1
            delay = min(self.probe_cap, self.probe_base * 2 ** min(circuit.failures - 1, 30))
            circuit.next_probe = time.monotonic() + delay
        elif health == "answered" and circuit.open:
            circuit.failures = 0
            # The tool is back: what backed off while it was down need not wait out its backoff.
            # Spread over a short window, so the backlog comes in batches, not all at once.
            self.store.pull_forward(
                name,
                int(now * 1000),
                window_ms=int(self.resume_window * 1000),
                group=self.destinations[name].batch_size,
            )
            log.info("trackwell router %s: the tool answers again; resuming", name)

    def _count(
        self,
        counters: DestinationCounters,
        batch: Sequence[Delivery],
        results: Sequence[DeliveryResult],
        outcomes: Sequence[Outcome],
        now: float,
    ) -> None:
        counters.batches += 1
        for delivery, result in zip(batch, results, strict=True):
            if result.outcome == "delivered":
                counters.delivered += 1
                received = delivery.message.get("receivedAt")
                if isinstance(received, str):
                    counters.latencies.append(max(now - _epoch(received), 0.0))
            elif result.outcome == "captured":
                counters.captured += 1
            elif result.outcome == "retry":
                counters.retried += 1
                counters.last_error = result.error
            else:
                counters.dead += 1
                counters.last_error = result.error
        del counters.latencies[:-10_000]  # keep a bounded window for percentiles
        waits = [o.retry_after for o in outcomes if o.retry_after]
        if waits:
            counters.paused_until = time.monotonic() + max(waits)

    def _report(self, name: str, exc: Exception) -> None:
        log.warning("trackwell router %s: %s", name, exc)
        if self.on_error is not None:
            try:
                self.on_error(name, exc)
            except Exception:
                log.exception("on_error callback failed")


def _epoch(iso: str) -> float:
    return parse_time(iso, "receivedAt").timestamp()
