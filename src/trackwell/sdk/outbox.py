"""The SDK's outbox: a bounded in-memory queue that spills to a file, drained by one writer thread.

Callers only append (never wait, unless they ask for `sync` durability); one background thread
writes groups of messages to the store in single transactions. When the queue is full,
messages go to an append-only spill file instead of being dropped, and keep going there until
the writer has drained it, so the order of messages is never changed.

The spill file outlives the process that wrote it (a crash leaves it for the next one), so it
may be read by another version of trackwell: its versioned format is `spill.py`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from trackwell.core.process import process_alive
from trackwell.sdk.spill import (
    SPILL_HEADER,
    UnreadableSpillError,
    encode_spill_record,
    read_spill_records,
)
from trackwell.store.base import Checked, Store, StoreError

log = logging.getLogger("trackwell.sdk.outbox")

DEFAULT_MAX_QUEUE = 10_000
DEFAULT_BATCH_SIZE = 1_000
DEFAULT_FLUSH_INTERVAL = 0.2
# Spilled records are written in groups of about this size: a system call per message would make
# a caller that outpaces the store pay for one each.
SPILL_GROUP_BYTES = 64 * 1024
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
        _outboxes.add(self)
        self._replay_spill()
        if self._replay is not None:
            self._start()  # a dead process's spill file is written now, not at the first call

    def _reset_runtime(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._queue: deque[tuple[int, Checked]] = deque()
        self._ticket = 0
        self._committed = 0
        # Tickets of messages dropped (reported through on_error): [first, last] runs, and the
        # highest ticket a flush has answered for, so each drop fails exactly one flush.
        self._dropped: list[list[int]] = []
        self._answered = 0
        self._spilling = False
        self._spill_offset = 0
        self._spill_handle: BinaryIO | None = None
        self._spill_group = bytearray()  # records not yet written, tickets first..last
        self._spill_group_first = 0
        self._spill_group_last = 0
        self._thread: threading.Thread | None = None
        self._stop = False
        self._pid = os.getpid()

    # -- callers ---------------------------------------------------------------------------

    def put(self, checked: Checked, *, wait: float | None = None) -> bool:
        """Enqueue one message; with `wait`, block until it is committed (up to that long).

        Returns False only when `wait` was given and the message is not durable yet.
        """
        if os.getpid() != self._pid:
            self._after_fork()
        if self._thread is None:
            self._start()
        with self._lock:
            self._ticket += 1
            ticket = self._ticket
            kept = True
            if self._spilling or len(self._queue) >= self.max_queue:
                kept = self._spill(ticket, checked, now=wait is not None)
            else:
                self._queue.append((ticket, checked))
            self.stats.enqueued += 1
        if wait is not None or len(self._queue) >= self.batch_size:
            self._wake.set()
        if wait is not None:
            return kept and self.wait_for(ticket, wait)
        return True

    def wait_for(self, ticket: int, timeout: float) -> bool:
        """Block until `ticket` is committed (or, if it was dropped, the last kept one before it);
        False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if ticket <= self._answered:
                return True  # a flush saw everything up to there written or dropped
            for first, last in self._dropped:
                if first <= ticket <= last:
                    ticket = first - 1  # never written: wait for what came before it
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
        if os.getpid() != self._pid:
            self._after_fork()  # a forked child waits only for its own messages
        deadline = time.monotonic() + timeout
        while self._replay is not None and self._thread is not None:
            # Messages left by a dead process come first; flush() covers them too.
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            with self._done:
                self._done.wait(0.05)
        with self._lock:
            # Gathered spill records are written (or found unwritable, and dropped) first, so the
            # wait below knows every message's fate.
            self._write_spill_group()
            target = self._ticket
        if target == 0 or self._thread is None:
            return True
        self._wake.set()
        written = self.wait_for(target, max(deadline - time.monotonic(), 0.0))
        with self._lock:
            # A message dropped since the last answer was not stored: this flush says so (once;
            # on_error already named the cause), instead of waiting out its timeout.
            lost = any(last > self._answered for _, last in self._dropped)
            if written:
                self._answered = max(self._answered, target)
                self._dropped = [run for run in self._dropped if run[1] > self._answered]
        return written and not lost

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
        with self._lock:
            # What is still in the spill file stays there for the next Client to replay.
            self._write_spill_group()
            if self._spill_handle is not None:
                with contextlib.suppress(OSError):
                    self._spill_handle.close()
                self._spill_handle = None
        return flushed

    # -- spill file ------------------------------------------------------------------------

    def _spill(self, ticket: int, checked: Checked, *, now: bool) -> bool:
        """Append one message to the spill file (caller holds the lock); False if dropped.

        Records are gathered in memory and written SPILL_GROUP_BYTES at a time (one system
        call, not one per message); `now` writes at once, for a caller that waits for this one.
        """
        if not self._spill_group:
            self._spill_group_first = ticket
        # One line per record: a line without its newline is a record torn by a crash.
        self._spill_group += encode_spill_record(ticket, checked)
        self._spill_group_last = ticket
        self._spilling = True
        self.stats.spilled += 1
        if now or len(self._spill_group) >= SPILL_GROUP_BYTES:
            return self._write_spill_group()
        return True

    def _write_spill_group(self) -> bool:
        """Write the gathered spill records (caller holds the lock); False if they were dropped."""
        if not self._spill_group:
            return True
        first, last = self._spill_group_first, self._spill_group_last
        try:
            if self._spill_handle is None:
                # Unbuffered: the group is this write, whole or not at all (`_append_frame`).
                self._spill_handle = self.spill_path.open("ab", buffering=0)
            group = bytes(self._spill_group)
            if os.fstat(self._spill_handle.fileno()).st_size == 0:
                group = SPILL_HEADER + group  # a new file says what it is, in the same write
            _append_frame(self._spill_handle, group)
        except OSError as exc:
            # Disk full and queue full: nowhere to keep them. Say so; never pretend they were
            # stored (one report per message, as each is a message lost).
            self.stats.spilled -= last - first + 1  # counted as kept when gathered
            self.stats.dropped += last - first + 1
            if self._dropped and self._dropped[-1][1] == first - 1:
                self._dropped[-1][1] = last
            else:
                self._dropped.append([first, last])
            for _ in range(first, last + 1):
                self._report(
                    StoreError(
                        f"outbox full and spill file unwritable ({exc.strerror}); message dropped"
                    )
                )
            # Keep spilling only while the file holds records not yet read: with none, the next
            # message may go to the queue again (those dropped are gone, so order still holds).
            with contextlib.suppress(OSError):  # cannot tell: keep spilling
                self._spilling = self._spill_offset < _size(self.spill_path)
            return False
        finally:
            self._spill_group = bytearray()
        return True

    def _read_spill(
        self, path: Path, offset: int, limit: int
    ) -> tuple[list[tuple[int, Checked]], int]:
        """Up to `limit` complete records from `offset`; returns them and the new offset.

        Raises `UnreadableSpillError` for a file of a format or version this code does not know.
        """
        if path == self.spill_path:
            with self._lock:
                self._write_spill_group()
        try:
            with path.open("rb") as handle:
                return read_spill_records(handle, offset, limit, path.name)
        except FileNotFoundError:
            return [], offset

    def _finish_spill(self) -> None:
        with self._lock:
            # Callers append under this lock; write their gathered records before comparing
            # sizes, or the last records would be unlinked unread.
            if self._spill_group:
                self._write_spill_group()
            if self._spill_offset >= _size(self.spill_path):
                if self._spill_handle is not None:
                    self._spill_handle.close()
                    self._spill_handle = None
                with contextlib.suppress(FileNotFoundError):
                    self.spill_path.unlink()
                self._spill_offset = 0
                self._spilling = False

    def _replay_spill(self) -> None:
        """Spill files left by processes that died are set aside and written before anything new.

        Spill files are named `<prefix>-<pid>-<n>`; one whose process is gone is renamed
        `*.replay-*` and drained first. Files of live processes (ours included) are left alone.
        """
        self._replay: Path | None = None
        self._replay_offset = 0
        prefix = _spill_prefix(self.spill_path)
        for candidate in sorted(self.spill_path.parent.glob(f"{prefix}-*")):
            if ".replay-" in candidate.name:
                continue
            owner = candidate.name[len(prefix) + 1 :].split("-")[0]
            if not owner.isdigit() or int(owner) == os.getpid() or process_alive(int(owner)):
                continue
            with contextlib.suppress(FileNotFoundError):
                candidate.rename(candidate.with_name(f"{candidate.name}.replay-{time.time_ns()}"))
        leftovers = sorted(self.spill_path.parent.glob(f"{prefix}-*.replay-*"))
        if leftovers:
            self._replay = leftovers[0]

    def _next_replay(self) -> list[tuple[int, Checked]]:
        if self._replay is None:
            return []
        try:
            records, self._replay_offset = self._read_spill(
                self._replay, self._replay_offset, self.batch_size
            )
        except UnreadableSpillError as exc:
            self._set_aside(self._replay, str(exc))
            self._replay_offset = 0
            self._replay_spill()
            return self._next_replay() if self._replay is not None else []
        if not records:
            torn = _size(self._replay) - self._replay_offset
            if torn > 0:
                # Its writer died in the middle of a write: that record was never acknowledged.
                log.warning(
                    "trackwell outbox: %s ends with a record torn by a crash (%d bytes), not"
                    " replayed",
                    self._replay.name,
                    torn,
                )
            with contextlib.suppress(FileNotFoundError):
                self._replay.unlink()
            self._replay_offset = 0
            self._replay_spill()  # another leftover, if a crash left several
            return self._next_replay() if self._replay is not None else []
        # Tickets from a previous process mean nothing here: nobody waits for them.
        return [(0, checked) for _, checked in records]

    def _set_aside(self, path: Path, reason: str) -> None:
        """Keep a spill file this version cannot read under a name no outbox replays; say so."""
        kept = path.with_name(f"{_spill_prefix(self.spill_path)}.unreadable-{time.time_ns()}")
        with contextlib.suppress(FileNotFoundError):
            path.rename(kept)
        self._report(
            StoreError(
                f"spill file {path.name} not replayed: {reason}. It is kept as {kept}; replay it"
                " with the trackwell version that wrote it, or remove it"
            )
        )

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
        self.spill_path = parent_spill.with_name(f"{_spill_prefix(parent_spill)}-{os.getpid()}-0")
        self._replay = None  # the parent's leftovers are the parent's to replay

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
                try:
                    batch = self._next_batch()
                except OSError as exc:  # the spill file cannot be read now: keep it, retry
                    self._report(StoreError(f"cannot read the spill file ({exc.strerror})"))
                    time.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    continue
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


_outboxes: weakref.WeakSet[Outbox] = weakref.WeakSet()


def _before_fork() -> None:
    # Buffered spill records would otherwise be written twice: by the parent and the child.
    for outbox in list(_outboxes):
        handle = outbox._spill_handle
        if handle is not None:
            with contextlib.suppress(OSError, ValueError):
                handle.flush()


os.register_at_fork(before=_before_fork)


def _append_frame(handle: BinaryIO, frame: bytes) -> None:
    """Write a whole frame at the end of the file, or nothing: a short write is cut off again."""
    size = os.fstat(handle.fileno()).st_size
    try:
        view = memoryview(frame)
        while view:
            written = handle.write(view)
            if not written:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(handle.fileno(), size)
        raise


def _size(path: Path) -> int:
    """A file's size, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _spill_prefix(path: Path) -> str:
    """`trackwell.db.spill-123-0` -> `trackwell.db.spill`."""
    return path.name.split(".spill-", 1)[0] + ".spill"
