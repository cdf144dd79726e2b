"""The SDK's outbox: a bounded in-memory queue that spills to a file, drained by one writer thread.

Callers only append (never wait, unless they ask for `sync` durability); one background thread
writes groups of messages to the store in single transactions. When the queue is full,
messages go to an append-only spill file instead of being dropped, and keep going there until
the writer has drained it, so the order of messages is never changed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from trackwell.messages import from_json
from trackwell.quality.violations import Violation
from trackwell.store.base import Checked, Store, StoreError

log = logging.getLogger("trackwell.outbox")

DEFAULT_MAX_QUEUE = 10_000
DEFAULT_BATCH_SIZE = 1_000
DEFAULT_FLUSH_INTERVAL = 0.2
# After a failed write, wait this long (doubling to the cap) before trying again.
RETRY_MIN_SECONDS = 0.05
RETRY_MAX_SECONDS = 5.0


@dataclass
class OutboxStats:
    """Counters a caller can read to see what the outbox did."""

    enqueued: int = 0
    written: int = 0
    spilled: int = 0
    dropped: int = 0
    write_errors: int = 0


class Outbox:
    """Bounded queue + spill file + writer thread in front of a Store."""

    def __init__(
        self,
        store: Store,
        *,
        spill_path: Path,
        max_queue: int = DEFAULT_MAX_QUEUE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        on_error: Callable[[Exception], None] | None = None,
        after_write: Callable[[Sequence[Checked]], None] | None = None,
    ) -> None:
        self.store = store
        self.spill_path = spill_path
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.on_error = on_error
        self.after_write = after_write
        self.stats = OutboxStats()
        self._reset_runtime()
        self._replay_spill()

    def _reset_runtime(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._queue: deque[tuple[int, Checked]] = deque()
        self._ticket = 0
        self._committed = 0
        self._spilling = False
        self._spill_offset = 0
        self._spill_last_ticket = 0
        self._spill_handle: BinaryIO | None = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self._pid = os.getpid()

    # -- callers ---------------------------------------------------------------------------

    def put(self, checked: Checked, *, wait: float | None = None) -> int:
        """Enqueue one message; with `wait`, block until it is committed (up to that long)."""
        if os.getpid() != self._pid:
            self._after_fork()
        if self._thread is None:
            self._start()
        with self._lock:
            self._ticket += 1
            ticket = self._ticket
            if self._spilling or len(self._queue) >= self.max_queue:
                self._spill(ticket, checked)
            else:
                self._queue.append((ticket, checked))
            self.stats.enqueued += 1
        if wait is not None or len(self._queue) >= self.batch_size:
            self._wake.set()
        if wait is not None:
            self.wait_for(ticket, wait)
        return ticket

    def wait_for(self, ticket: int, timeout: float) -> bool:
        """Block until `ticket` is committed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self._committed < ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.set()
                self._done.wait(min(remaining, 0.5))
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything enqueued so far is committed; False on timeout."""
        with self._lock:
            target = self._ticket
        if target == 0 or self._thread is None:
            return True
        self._wake.set()
        return self.wait_for(target, timeout)

    def pending(self) -> int:
        """Messages enqueued and not yet committed."""
        return self._ticket - self._committed

    def close(self, timeout: float = 5.0) -> bool:
        """Flush, then stop the writer thread; True when everything was written."""
        flushed = self.flush(timeout)
        self._stop = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None
        return flushed

    # -- spill file ------------------------------------------------------------------------

    def _spill(self, ticket: int, checked: Checked) -> None:
        """Append one message to the spill file (caller holds the lock)."""
        record = {
            "t": ticket,
            "v": checked.verdict,
            "x": [v.to_dict() for v in checked.violations],
            "b": checked.body.decode() if checked.body else None,
        }
        try:
            if self._spill_handle is None:
                self._spill_handle = self.spill_path.open("ab")
            self._spill_handle.write(orjson.dumps(record) + b"\n")
        except OSError as exc:
            # Disk full and queue full: nowhere to keep it. Say so; never pretend it was stored.
            self.stats.dropped += 1
            self._report(
                StoreError(
                    f"outbox full and spill file unwritable ({exc.strerror}); message dropped"
                )
            )
            return
        self._spilling = True
        self._spill_last_ticket = ticket
        self.stats.spilled += 1

    def _read_spill(
        self, path: Path, offset: int, limit: int
    ) -> tuple[list[tuple[int, Checked]], int]:
        """Up to `limit` complete records from `offset`; returns them and the new offset."""
        out: list[tuple[int, Checked]] = []
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                while len(out) < limit:
                    line = handle.readline()
                    if not line.endswith(b"\n"):
                        break  # a line being written (or torn by a crash): not yet
                    offset += len(line)
                    try:
                        out.append(_decode_spilled(line))
                    except (ValueError, KeyError, TypeError):
                        log.warning("skipped an unreadable spill record at offset %d", offset)
        except FileNotFoundError:
            pass
        return out, offset

    def _finish_spill(self) -> None:
        with self._lock:
            # Callers append under this lock; flush their buffered lines before comparing sizes,
            # or the last records would be unlinked unread.
            if self._spill_handle is not None:
                self._spill_handle.flush()
            try:
                size = self.spill_path.stat().st_size
            except FileNotFoundError:
                size = 0
            if self._spill_offset >= size:
                if self._spill_handle is not None:
                    self._spill_handle.close()
                    self._spill_handle = None
                with contextlib.suppress(FileNotFoundError):
                    self.spill_path.unlink()
                self._spill_offset = 0
                self._spilling = False

    def _replay_spill(self) -> None:
        """A spill file left by a crashed process is set aside and written before anything new."""
        self._replay: Path | None = None
        self._replay_offset = 0
        if self.spill_path.exists():
            self._replay = self.spill_path.with_name(
                f"{self.spill_path.name}.replay-{time.time_ns()}"
            )
            self.spill_path.rename(self._replay)
        leftovers = sorted(self.spill_path.parent.glob(f"{self.spill_path.name}.replay-*"))
        if leftovers:
            self._replay = leftovers[0]

    def _next_replay(self) -> list[tuple[int, Checked]]:
        if self._replay is None:
            return []
        records, self._replay_offset = self._read_spill(
            self._replay, self._replay_offset, self.batch_size
        )
        if not records:
            with contextlib.suppress(FileNotFoundError):
                self._replay.unlink()
            self._replay_offset = 0
            self._replay_spill()  # another leftover, if a crash left several
            return self._next_replay() if self._replay is not None else []
        # Tickets from a previous process mean nothing here: nobody waits for them.
        return [(0, checked) for _, checked in records]

    # -- writer thread ---------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="trackwell-outbox", daemon=True)
            self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child: fresh locks, an empty queue, its own spill file, no thread yet."""
        parent_spill = self.spill_path
        self._reset_runtime()
        self.spill_path = parent_spill.with_name(
            f"{parent_spill.stem}-{os.getpid()}{parent_spill.suffix}"
        )

    def _next_batch(self) -> list[tuple[int, Checked]]:
        replayed = self._next_replay()
        if replayed:
            return replayed
        batch: list[tuple[int, Checked]] = []
        while self._queue and len(batch) < self.batch_size:
            batch.append(self._queue.popleft())
        if not batch and self._spilling:
            batch, self._spill_offset = self._read_spill(
                self.spill_path, self._spill_offset, self.batch_size
            )
            if not batch:
                self._finish_spill()
        return batch

    def _run(self) -> None:
        delay = RETRY_MIN_SECONDS
        batch: list[tuple[int, Checked]] = []
        while True:
            if not batch:
                batch = self._next_batch()
            if not batch:
                if self._stop:
                    return
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                continue
            try:
                self.store.write_batch([checked for _, checked in batch])
            except Exception as exc:  # the store failed: keep the batch, report, retry
                self.stats.write_errors += 1
                self._report(exc)
                if self._stop:
                    return
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            delay = RETRY_MIN_SECONDS
            self.stats.written += len(batch)
            if self.after_write is not None:
                self.after_write([checked for _, checked in batch])
            with self._done:
                self._committed = max(self._committed, max(ticket for ticket, _ in batch))
                self._done.notify_all()
            batch = []

    def _report(self, exc: Exception) -> None:
        log.warning("trackwell outbox: %s", exc)
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                log.exception("on_error callback failed")


def _spill_prefix(path: Path) -> str:
    """`trackwell.db.spill-123-0` -> `trackwell.db.spill`."""
    return path.name.split(".spill-", 1)[0] + ".spill"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _decode_spilled(line: bytes) -> tuple[int, Checked]:
    record = orjson.loads(line)
    message = from_json(orjson.loads(record["b"])) if record["b"] else None
    if message is None:
        raise ValueError("spill record without a body")
    violations = tuple(
        Violation(
            v["code"],
            v["path"],
            v["message"],
            v.get("effect", "report"),
            v.get("suggestion"),
            v.get("kind"),
        )
        for v in record["x"]
    )
    return record["t"], Checked(message, record["v"], violations, record["b"].encode())
