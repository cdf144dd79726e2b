"""Backpressure: the undelivered backlog of the configured destinations, and store health."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Collection

from trackwell.store import DeliveryStats, Store, StoreError, sqlite_file

log = logging.getLogger("trackwell.server.backlog")

DEFAULT_HIGH_WATER = 1_000_000
POLL_SECONDS = 0.5
PROBE_SECONDS = 5.0
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
        self._polled = 0
        self._since_poll = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
            s
            for s in self.store.delivery_stats(int(time.time() * 1000))
            if s.destination in self.destinations
        ]
        self.stats = stats
        self._polled = max(
            (s.pending + s.in_flight + s.retry + s.waiting for s in stats), default=0
        )

    def start(self) -> None:
        """Poll in a background thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="trackwell-backlog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        next_probe = 0.0
        while not self._stop.is_set():
            try:
                if self.destinations:
                    self.refresh()
            except StoreError as exc:
                log.warning(
                    "cannot read the delivery queues", extra={"fields": {"error": str(exc)}}
                )
            if time.monotonic() >= next_probe:
                self.store_error = probe_store(self.store.url)
                next_probe = time.monotonic() + PROBE_SECONDS
            self._stop.wait(self.poll_seconds)


def probe_store(url: str) -> str | None:
    """Why the store cannot take writes right now, or None (SQLite: take the write lock)."""
    path = sqlite_file(url)
    if path is None:
        return None
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
