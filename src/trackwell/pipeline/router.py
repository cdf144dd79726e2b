"""The router: one worker per destination moving messages from the store's queues to the tools.

Each destination has its own thread, so one that is down, slow or rate-limited never delays
the others. A worker claims a batch, hands it to the destination, and acks per message:
delivered, captured (a destination in capture mode recorded it and sent nothing), retry (with
exponential backoff and full jitter, or the tool's Retry-After), or dead (after the tool refused
it, or after `max_attempts`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from trackwell.destinations.base import Destination
from trackwell.destinations.base_types import Outcome
from trackwell.destinations.retry import backoff_seconds
from trackwell.messages import parse_time
from trackwell.store.base import Delivery, DeliveryResult, Store, StoreError

log = logging.getLogger("trackwell.router")

DEFAULT_MAX_ATTEMPTS = 12
DEFAULT_POLL_SECONDS = 0.2
STORE_RETRY_SECONDS = 1.0


@dataclass
class DestinationCounters:
    """What one worker has done since it started, for metrics and monitors."""

    delivered: int = 0
    captured: int = 0  # recorded in capture mode, never sent
    retried: int = 0
    dead: int = 0
    batches: int = 0
    # Seconds from receivedAt to acknowledgement of recently delivered messages.
    latencies: list[float] = field(default_factory=list)
    paused_until: float = 0.0  # time.monotonic() until which the tool asked us to wait
    last_error: str | None = None


class RateLimiter:
    """A token bucket in messages per second (None: no limit)."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = rate or 0.0
        self._last = clock()

    def delay(self, count: int) -> float:
        """Take `count` tokens; returns how long to wait before sending them."""
        if not self.rate:
            return 0.0
        now = self._clock()
        self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= count
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


def results_for(
    batch: Sequence[Delivery],
    outcomes: Sequence[Outcome],
    now: float,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[DeliveryResult]:
    """The store's per-message results from a destination's outcomes (pure, tested as a table)."""
    results = []
    for delivery, outcome in zip(batch, outcomes, strict=True):
        if outcome.kind == "delivered":
            results.append(DeliveryResult(delivery.seq, "delivered"))
            continue
        if outcome.kind == "captured":
            # Settled without reaching the tool: its own state, never delivered, replayable.
            results.append(DeliveryResult(delivery.seq, "captured", error=outcome.error))
            continue
        attempts = delivery.attempts + 1
        if outcome.kind == "dead" or attempts >= max_attempts:
            reason = outcome.error or "refused"
            if outcome.kind != "dead":
                reason = f"gave up after {attempts} attempts; last: {reason}"
            results.append(DeliveryResult(delivery.seq, "dead", error=reason))
            continue
        wait = outcome.retry_after if outcome.retry_after is not None else backoff_seconds(attempts)
        results.append(
            DeliveryResult(delivery.seq, "retry", int((now + wait) * 1000), outcome.error)
        )
    return results


class Router:
    """Runs a worker thread per destination over one store."""

    def __init__(
        self,
        store: Store,
        destinations: Sequence[Destination],
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        poll_interval: float = DEFAULT_POLL_SECONDS,
        clock: Callable[[], float] = time.time,
        on_error: Callable[[str, Exception], None] | None = None,
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
        self.counters = {name: DestinationCounters() for name in self.destinations}
        self._limiters = {d.name: RateLimiter(d.rate_limit) for d in destinations}
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
        while (handled := self.run_once(name)) > 0:
            total += handled
        return total

    # -- one batch ---------------------------------------------------------------------------

    def run_once(self, name: str) -> int:
        """Claim, deliver and ack one batch for one destination; returns how many were handled."""
        destination = self.destinations[name]
        counters = self.counters[name]
        now = self.clock()
        waiting = counters.paused_until - time.monotonic()
        if waiting > 0:
            # The tool asked us to wait (429 Retry-After): send nothing to it until then. The
            # pause runs on the monotonic clock, so a wall-clock step cannot stretch it.
            self._stop.wait(min(waiting, self.poll_interval))
            return 0
        batch = self.store.claim(name, destination.batch_size, int(now * 1000))
        if not batch:
            return 0
        pause = self._limiters[name].delay(len(batch))
        if pause > 0:
            self._stop.wait(pause)
        try:
            outcomes = destination.deliver([d.message for d in batch])
        except Exception as exc:  # a bug in a mapping must not kill the worker or lose messages
            self._report(name, exc)
            outcomes = [Outcome("retry", f"destination error: {type(exc).__name__}")] * len(batch)
        now = self.clock()
        results = results_for(batch, outcomes, now, max_attempts=self.max_attempts)
        self.store.ack(name, results, int(now * 1000))
        self._count(counters, batch, results, outcomes, now)
        return len(batch)

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
