"""The SDK's outbox: a bounded in-memory queue that spills to a file, drained by one writer thread.

Callers only append (never wait, unless they ask for `sync` durability); one background thread
writes groups of messages to the store in single transactions. When the queue is full,
messages go to an append-only spill file instead of being dropped, and keep going there until
the writer has drained it, so the order of messages is never changed.

The spill file outlives the process that wrote it (a crash leaves it for the next one), so it
may be read by another version of trackwell. Its format is versioned and self-describing: a
header line `{"format":"trackwell-spill","version":2}`, then one JSON object per line with every
field named (`SPILL_FORMAT_VERSION`). A file of a version this one does not know is never
guessed at: it is renamed `<prefix>.unreadable-<ns>`, kept, and reported. Files of version 1
(length-prefixed pickles of positional fields, before the header existed) are still read,
through an unpickler that knows only version 1's classes and field orders.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import logging
import math
import os
import pickle
import struct
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from trackwell.core.messages import Message
from trackwell.core.process import process_alive
from trackwell.quality.violations import Violation
from trackwell.store.base import Checked, Store, StoreError

log = logging.getLogger("trackwell.sdk.outbox")

# The spill file's format. Bump the version whenever a record's fields change meaning or shape;
# a reader refuses (and keeps) files of a version it does not know.
SPILL_FORMAT = "trackwell-spill"
SPILL_FORMAT_VERSION = 2
SPILL_HEADER = orjson.dumps({"format": SPILL_FORMAT, "version": SPILL_FORMAT_VERSION}) + b"\n"
_MAGIC = b'{"format":"trackwell-spill"'
# Version 1 had no header: each record was a 4-byte big-endian length, then a pickle.
_V1_FRAME = struct.Struct(">I")

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


# -- the spill file's format ----------------------------------------------------------------------


class UnreadableSpillError(ValueError):
    """A spill file of a format or version this code does not know (kept, never guessed at)."""


_MESSAGE_FIELDS = tuple(f.name for f in fields(Message))
_TIME_FIELDS = frozenset(("timestamp", "original_timestamp", "sent_at", "received_at"))
_INT64 = (-(2**63), 2**63 - 1)


def encode_spill_record(ticket: int, checked: Checked) -> bytes:
    """One spill record (version 2): a JSON line with every field named."""
    message = checked.message
    record: dict[str, Any] = {
        "ticket": ticket,
        "verdict": checked.verdict,
        "source": checked.source,
        "violations": [v.to_dict() for v in checked.violations],
        "message": {name: getattr(message, name) for name in _MESSAGE_FIELDS},
    }
    try:
        record["body"] = checked.body.decode("utf-8")
    except UnicodeDecodeError:
        record["body_base64"] = base64.b64encode(checked.body).decode("ascii")
    try:
        # orjson writes times in ISO 8601 with their offset and microseconds, read back exactly.
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except (TypeError, orjson.JSONEncodeError):
        # Values JSON cannot carry (integers beyond 64 bits, non-string keys, objects): only a
        # blocked message can hold them (`prepare` blocks what it cannot encode), and the store
        # keeps only its summary body, ids and names. Its payload is written as near as JSON
        # allows, and the record says so.
        record["message"] = {
            name: value if name in _TIME_FIELDS else _json_ready(value)
            for name, value in record["message"].items()
        }
        record["lossy"] = True
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE, default=_type_marker)


def _type_marker(value: Any) -> str:
    """A JSON stand-in for an object JSON cannot carry: its type, never its repr (secrets)."""
    return f"[unserialisable:{type(value).__name__}]"


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return _type_marker(value)


def decode_spill_record(line: bytes) -> tuple[int, Checked]:
    """The inverse of `encode_spill_record`; raises ValueError for a record it cannot read."""
    try:
        data = orjson.loads(line)
        fields_ = data["message"]
        unknown = set(fields_) - set(_MESSAGE_FIELDS)
        if unknown:
            raise ValueError(f"unknown message fields {sorted(unknown)}")
        for name in _TIME_FIELDS:
            if fields_.get(name) is not None:
                fields_[name] = datetime.fromisoformat(fields_[name])
        body = (
            data["body"].encode("utf-8")
            if "body" in data
            else base64.b64decode(data["body_base64"], validate=True)
        )
        checked = Checked(
            Message(**fields_),
            data["verdict"],
            tuple(Violation(**v) for v in data["violations"]),
            body,
            data["source"],
        )
        ticket = data["ticket"]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a spill record ({exc})") from None
    if not isinstance(ticket, int):
        raise ValueError("not a spill record (ticket)")
    return ticket, checked


def spill_version(head: bytes) -> int | None:
    """The format version of a spill file from its first bytes; None if empty or torn before its
    first record. Raises `UnreadableSpillError` for anything else."""
    if not head or (len(head) < len(SPILL_HEADER) and SPILL_HEADER.startswith(head)):
        return None  # a writer died before its first write finished: nothing in it
    if head.startswith(_MAGIC):
        line, newline, _ = head.partition(b"\n")
        try:
            header = orjson.loads(line) if newline else None
        except orjson.JSONDecodeError:
            header = None
        version = header.get("version") if isinstance(header, dict) else None
        if not isinstance(version, int):
            raise UnreadableSpillError("its header line is damaged")
        if version != SPILL_FORMAT_VERSION:
            raise UnreadableSpillError(
                f"it is in spill format version {version}, and this trackwell reads versions 1"
                f" and {SPILL_FORMAT_VERSION} (it was written by a newer trackwell)"
                if version > SPILL_FORMAT_VERSION
                else f"it is in an unknown spill format version {version}"
            )
        return version
    # Version 1: a length (a record is at most a few hundred KB, so its first byte is 0) and
    # then a pickle, which starts with the PROTO opcode.
    if len(head) >= _V1_FRAME.size + 1 and head[0] == 0 and head[_V1_FRAME.size] == 0x80:
        return 1
    raise UnreadableSpillError("it is not in any spill format this trackwell knows")


# Enough for the header line and the first bytes of a version 1 record.
_HEAD_BYTES = len(SPILL_HEADER) + 16


def read_spill_records(
    handle: BinaryIO, offset: int, limit: int, name: str
) -> tuple[list[tuple[int, Checked]], int]:
    """Up to `limit` complete records of an open spill file from `offset` (0: the start)."""
    version = spill_version(handle.read(_HEAD_BYTES))
    out: list[tuple[int, Checked]] = []
    if version is None:
        return out, offset
    if version == 1:
        return _read_v1(handle, offset, limit, name)
    handle.seek(0)
    header_end = len(handle.readline())  # the header line, checked by `spill_version`
    handle.seek(max(offset, header_end))
    offset = handle.tell()
    while len(out) < limit:
        line = handle.readline()
        if not line.endswith(b"\n"):
            break  # nothing more, or a record still being written (or torn by a crash)
        try:
            out.append(decode_spill_record(line))
        except ValueError as exc:
            _skipped(name, offset, exc)
        offset += len(line)
    return out, offset


def _read_v1(
    handle: BinaryIO, offset: int, limit: int, name: str
) -> tuple[list[tuple[int, Checked]], int]:
    """Records of a version 1 file: length-prefixed pickles of positional fields."""
    out: list[tuple[int, Checked]] = []
    handle.seek(offset)
    while len(out) < limit:
        header = handle.read(_V1_FRAME.size)
        if len(header) < _V1_FRAME.size:
            break
        (length,) = _V1_FRAME.unpack(header)
        payload = handle.read(length)
        if len(payload) < length:
            break
        offset += _V1_FRAME.size + length
        try:
            ticket, checked = _V1Unpickler(io.BytesIO(payload)).load()
            if not isinstance(checked, Checked) or not isinstance(ticket, int):
                raise ValueError("not a spill record")
            out.append((ticket, checked))
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError) as exc:
            _skipped(name, offset, exc)
    return out, offset


def _skipped(name: str, offset: int, exc: Exception) -> None:
    # A damaged record in the middle of a file (not a torn last one): said, never silent.
    log.warning(
        "trackwell outbox: skipped an unreadable record in %s at offset %d: %s", name, offset, exc
    )


# Version 1's positional layouts, pinned here: they must not follow later changes to the classes.
_V1_MESSAGE_FIELDS = (
    "type", "message_id", "user_id", "anonymous_id", "event", "name", "properties", "traits",
    "group_id", "previous_id", "timestamp", "original_timestamp", "sent_at", "received_at",
    "context", "integrations", "extra", "timestamp_missing",
)  # fmt: skip
_V1_CHECKED_FIELDS = ("message", "verdict", "violations", "body", "source")
_V1_VIOLATION_FIELDS = ("code", "path", "message", "effect", "suggestion", "kind")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _v1_message(*values: Any) -> Message:
    data = dict(zip(_V1_MESSAGE_FIELDS, values, strict=True))
    for name in _TIME_FIELDS:
        if type(data[name]) is int:  # UTC times were written as microseconds since the epoch
            data[name] = _EPOCH + timedelta(microseconds=data[name])
    return Message(**data)


def _v1_checked(*values: Any) -> Checked:
    data = dict(zip(_V1_CHECKED_FIELDS, values, strict=True))
    data["violations"] = tuple(
        Violation(**dict(zip(_V1_VIOLATION_FIELDS, v.state, strict=True)))
        for v in data["violations"]
    )
    return Checked(**data)


class _V1Violation:
    """Stands in for a version 1 pickled Violation: keeps its positional state."""

    state: list[Any]

    def __setstate__(self, state: Any) -> None:
        self.state = list(state)  # dataclass(slots=True) pickles its fields as a list


# Every name a version 1 record refers to, and what reads it now.
_V1_NAMES: dict[tuple[str, str], Any] = {
    ("trackwell.store.base", "Checked"): _v1_checked,
    ("trackwell.messages", "_unpickle_message"): _v1_message,
    ("trackwell.quality.violations", "Violation"): _V1Violation,
    ("datetime", "datetime"): datetime,
    ("datetime", "timezone"): timezone,
    ("datetime", "timedelta"): timedelta,
}


class _V1Unpickler(pickle.Unpickler):
    """Reads version 1 records and nothing else: only the names version 1 wrote are allowed."""

    def find_class(self, module: str, name: str) -> Any:
        """The stand-in for a name version 1 wrote; refuses every other name."""
        try:
            return _V1_NAMES[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not in a version 1 record") from None
