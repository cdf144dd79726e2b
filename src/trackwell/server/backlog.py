"""Backpressure: the undelivered backlog of the configured destinations, and store health."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Collection
from typing import Protocol, runtime_checkable

from trackwell.core.time import now_ms
from trackwell.server.storeerrors import store_reason
from trackwell.store import DeliveryStats, Store, StoreError, sqlite_file

log = logging.getLogger("trackwell.server.backlog")

DEFAULT_HIGH_WATER = 1_000_000
POLL_SECONDS = 0.5
# How often the store is probed: PostgreSQL's probe is one short transaction, so often enough
# that readiness follows a lock or an outage within a second or two; SQLite's takes the single
# write lock, which the writer needs, so it stays rarer.
PROBE_SECONDS = 1.0
SQLITE_PROBE_SECONDS = 5.0
# A probe still waiting after this long means the store is not answering (a frozen server, a
# partition): /readyz says so without waiting for the probe's own bound to run out.
PROBE_STALL_SECONDS = 2.0
RETRY_AFTER_SECONDS = 5


class Backlog:
    """The largest destination queue, polled from the store and bumped by every write."""

    def __init__(
        self,
        store: Store,
        destinations: Collection[str],
        high_water: int | None = DEFAULT_HIGH_WATER,
        *,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.store = store
        self.destinations = frozenset(destinations)
        self.high_water = high_water
        self.poll_seconds = poll_seconds
        self.stats: list[DeliveryStats] = []
        self.store_error: str | None = None
        # When the last probe that found the store writable began (monotonic; 0: never).
        self.probe_ok_at = 0.0
        self._probing_since: float | None = None
        self._polled = 0
        self._since_poll = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._prober: threading.Thread | None = None

    @property
    def size(self) -> int:
        """Messages waiting for the slowest destination (an upper bound between polls)."""
        return self._polled + self._since_poll

    def over(self) -> bool:
        """Whether new messages should be refused until the routers catch up."""
        return (
            bool(self.destinations) and self.high_water is not None and self.size >= self.high_water
        )

    def added(self, count: int) -> None:
        """Messages were just committed (called by the writer)."""
        if self.destinations:
            self._since_poll += count

    def refresh(self) -> None:
        """Read the queues from the store now."""
        # Reset before reading: a write landing during the query is counted twice, never missed.
        self._since_poll = 0
        stats = [
            s for s in self.store.delivery_stats(now_ms()) if s.destination in self.destinations
        ]
        self.stats = stats
        self._polled = max(
            (s.pending + s.in_flight + s.retry + s.waiting for s in stats), default=0
        )

    def start(self) -> None:
        """Poll the queues, and probe the store, in two background threads."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="trackwell-backlog", daemon=True)
        self._thread.start()
        # Its own thread: a queue poll stuck on a frozen store must not hold the probe back.
        self._prober = threading.Thread(target=self._probe, name="trackwell-probe", daemon=True)
        self._prober.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        for thread in (self._thread, self._prober):
            if thread is not None:
                thread.join(5)
        self._thread = self._prober = None

    def probe_now(self) -> None:
        """Find out whether the store takes writes, and remember when it last did."""
        started = time.monotonic()
        self._probing_since = started
        try:
            error, probed = probe_store(self.store)
        finally:
            self._probing_since = None
        self.store_error = error
        if error is None and probed:
            self.probe_ok_at = started

    def stalled(self) -> float | None:
        """How long the running probe has waited, once that is longer than it should be."""
        since = self._probing_since
        if since is None:
            return None
        waited = time.monotonic() - since
        return waited if waited >= PROBE_STALL_SECONDS else None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.destinations:
                    self.refresh()
            except StoreError as exc:
                log.warning(
                    "cannot read the delivery queues", extra={"fields": {"error": str(exc)}}
                )
            self._stop.wait(self.poll_seconds)

    def _probe(self) -> None:
        interval = PROBE_SECONDS if isinstance(self.store, WriteProbe) else SQLITE_PROBE_SECONDS
        while not self._stop.is_set():
            self.probe_now()
            self._stop.wait(interval)


@runtime_checkable
class WriteProbe(Protocol):
    """A store that can tell, cheaply and within a bound, whether a write would go through."""

    def probe_writes(self) -> str | None:
        """Why a write would fail or wait right now, or None."""


def probe_store(store: Store) -> tuple[str | None, bool]:
    """Why the store cannot take writes right now (or None), and whether a write was tried.

    Only a probe that goes the way writes go (PostgreSQL: connection, write locks) may clear a
    failed write; SQLite's lock probe says nothing of a full or failing disk, so there the
    writer stays unhealthy until a write succeeds.
    """
    if isinstance(store, WriteProbe):
        error = store.probe_writes()
        if error is not None:
            log.warning("store probe failed", extra={"fields": {"error": error}})
        return (None if error is None else store_reason(StoreError(error))), True
    path = sqlite_file(store.url)
    if path is None:
        return None, False
    return _probe_sqlite(path), False


def _probe_sqlite(path: str) -> str | None:
    """Why a SQLite store cannot take writes: take the write lock."""
    try:
        conn = sqlite3.connect(path, timeout=2.0, isolation_level=None)
    except sqlite3.Error as exc:
        return f"cannot open the store: {exc}"
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return f"the store cannot take writes: {exc}"
    finally:
        conn.close()
    return None
