"""The one writer: a thread that group-commits every request's messages into the store.

Requests hand over their prepared messages and wait; the thread takes everything queued
(whole requests, up to `max_group` messages) and writes it in one `Store.write_batch`, so
concurrent requests share a transaction and its fsync. A request is answered only after its
transaction committed, and a request's messages are never split across transactions. When a
shared transaction fails for a reason one request's data may hold, the requests are written one
by one, so one bad request never fails the others.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trackwell.server.storeerrors import UNAVAILABLE, store_reason
from trackwell.store import Checked, LogWriter, StoreError, StoreUncertainError, Written

log = logging.getLogger("trackwell.server.writer")

DEFAULT_MAX_GROUP = 5000


@dataclass
class WriterStats:
    """What the writer has done, for /metrics and /readyz."""

    transactions: int = 0
    messages: int = 0
    failures: int = 0
    seconds: float = 0.0  # time spent inside write_batch
    last_error: str | None = None
    healthy: bool = True  # False from a failed write until the next one succeeds
    failed_at: float = 0.0  # when the last failed write began (monotonic)


_Pending = tuple[Sequence[Checked], "asyncio.Future[list[Written]]", asyncio.AbstractEventLoop]


class Writer:
    """Owns every write to the store made by the gateway."""

    def __init__(
        self,
        store: LogWriter,
        *,
        max_group: int = DEFAULT_MAX_GROUP,
        after_write: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.max_group = max_group
        self.after_write = after_write
        self.stats = WriterStats()
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="trackwell-writer", daemon=True)
        self._thread.start()

    async def write(self, checked: Sequence[Checked]) -> list[Written]:
        """Commit these messages (in one transaction with others' maybe); raises StoreError."""
        if not checked:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Written]] = loop.create_future()
        with self._cond:
            if self._stopping or self._thread is None:
                raise RuntimeError("the writer is not running")
            self._queue.append((checked, future, loop))
            self._cond.notify()
        # Shielded: a client that disconnects must not cancel a commit others share.
        return await asyncio.shield(future)

    def stop(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _take(self) -> list[_Pending] | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._queue:
                return None
            group = [self._queue.popleft()]
            size = len(group[0][0])
            while self._queue and size + len(self._queue[0][0]) <= self.max_group:
                item = self._queue.popleft()
                group.append(item)
                size += len(item[0])
            return group

    def _run(self) -> None:
        while (group := self._take()) is not None:
            batch = [c for checked, _, _ in group for c in checked]
            started = time.perf_counter()
            started_at = time.monotonic()
            try:
                written = self.store.write_batch(batch)
            except Exception as exc:  # StoreError, or a bug: every waiting request hears of it
                if len(group) > 1 and _maybe_one_request(exc):
                    self._one_by_one(group)
                else:
                    self._failed(group, exc, started_at)
                continue
            self._done(group, written, started)

    def _one_by_one(self, group: list[_Pending]) -> None:
        """A shared commit failed for a reason one request's data may hold (not an outage):
        each request is written alone, so only the one the store refuses fails."""
        for item in group:
            started = time.perf_counter()
            started_at = time.monotonic()
            try:
                written = self.store.write_batch(item[0])
            except Exception as exc:
                self._failed([item], exc, started_at)
                continue
            self._done([item], written, started)

    def _failed(self, group: list[_Pending], exc: Exception, started_at: float) -> None:
        self.stats.failures += 1
        # What /readyz shows anyone: the cause, never the store's path or host.
        self.stats.last_error = (
            store_reason(exc) if isinstance(exc, StoreError) else type(exc).__name__
        )
        if isinstance(exc, StoreError):
            self.stats.healthy = False  # a refused message says nothing of the store's health
            self.stats.failed_at = started_at
        log.error("store write failed", extra={"fields": {"error": str(exc)}})
        for _, future, loop in group:
            loop.call_soon_threadsafe(_fail, future, exc)

    def _done(self, group: list[_Pending], written: list[Written], started: float) -> None:
        batch_size = sum(len(checked) for checked, _, _ in group)
        self.stats.seconds += time.perf_counter() - started
        self.stats.transactions += 1
        self.stats.messages += batch_size
        self.stats.healthy = True
        offset = 0
        for checked, future, loop in group:
            part = written[offset : offset + len(checked)]
            offset += len(checked)
            loop.call_soon_threadsafe(_succeed, future, part)
        if self.after_write is not None:
            self.after_write(batch_size)


def _maybe_one_request(exc: Exception) -> bool:
    """Whether a failed shared commit may be one request's fault: anything but the store being
    unavailable (unwritable, full, locked, unreachable: `store_reason` knows those words), which
    would fail every request alone too, only slower."""
    if not isinstance(exc, StoreError):
        return True  # a value the driver or the SQL could not take (ValueError, TypeError, ...)
    if isinstance(exc, StoreUncertainError):
        return False  # the store stopped answering mid-commit: an outage, not a value
    return store_reason(exc) == UNAVAILABLE and not _OUTAGE.search(str(exc))


# Words of a store error that is an outage rather than a refused value (PostgreSQL's
# connection errors, SQLite's I/O errors).
_OUTAGE = re.compile(
    r"connection|server closed|terminat|timeout|timed out|no free|unreachable|closed|"
    r"disk|I/O|shutting down|recovery|too many clients",
    re.IGNORECASE,
)


def _succeed(future: asyncio.Future[list[Written]], written: list[Written]) -> None:
    if not future.done():
        future.set_result(written)


def _fail(future: asyncio.Future[list[Written]], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
