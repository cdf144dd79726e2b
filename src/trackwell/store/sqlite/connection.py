"""SQLite connections: one per thread (and per process, for fork safety), WAL, busy timeout."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from trackwell.store.base import StoreError

BUSY_TIMEOUT_MS = 5000
# Checkpoint the WAL into the database every ~40 MB instead of SQLite's 4 MB: a batch with random
# keys (dedup hashes, user ids) dirties thousands of pages, so at 4 MB every commit paid for a
# checkpoint (a copy and two fsyncs); at 40 MB a page changed by many commits is copied once.
# `write_batch` alone measured up to 1.4x faster this way; the whole gateway, about 1.1x.
WAL_AUTOCHECKPOINT_PAGES = 10_000
# After a checkpoint, a WAL file grown past this is cut back, so the disk it holds stays bounded.
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
MEMORY = ":memory:"
# FULL: every commit fsyncs the WAL, so a committed transaction (and the 200 that follows it)
# survives a power cut or a failing disk, and a write the disk refuses fails its commit instead
# of failing later, unseen, in the kernel's write-back. The writer's group commit shares one
# fsync among all the requests of a transaction, which is what makes this affordable.
# NORMAL (fsync only at checkpoints) is an explicit opt-in: `sqlite:///x.db?synchronous=normal`.
SYNCHRONOUS_MODES = ("FULL", "NORMAL")
DEFAULT_SYNCHRONOUS = "FULL"


class Connections:
    """Hands out connections to one database: per thread on a file, one shared for memory."""

    def __init__(
        self, path: str, *, synchronous: str = DEFAULT_SYNCHRONOUS, cache_kib: int = 65536
    ) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise StoreError(
                f"{path}: synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}"
                f" (got {synchronous!r})"
            )
        self.path = path
        self.memory = path == MEMORY
        self._synchronous = synchronous
        self._cache_kib = cache_kib
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.RLock()  # guards _all, and every use of the shared memory db
        self._shared: sqlite3.Connection | None = None
        self._pid = os.getpid()
        if self.memory:
            self._shared = self._open(f"file:trackwell-{uuid.uuid4().hex}?mode=memory", uri=True)
        else:
            parent = Path(path).parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"{parent}: cannot create the store's folder ({exc.strerror})"
                ) from None

    def _open(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                target,
                uri=uri,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not self.memory:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute(f"PRAGMA cache_size = -{self._cache_kib}")
            conn.execute("PRAGMA foreign_keys = OFF")
            # Deleted rows are overwritten with zeros (cells and freed pages), so an erased
            # person's data does not linger in the file's free space (`Privacy.erase`).
            conn.execute("PRAGMA secure_delete = ON")
            if not self.memory:
                conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
                conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise StoreError(damaged(self.path, str(exc))) from None
            raise StoreError(f"{self.path}: cannot open the store ({exc})") from None
        with self._lock:
            self._all.append(conn)
        return conn

    def _current(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:
            # A forked child must never use its parent's connections or locks.
            self._pid = os.getpid()
            self._local = threading.local()
            self._all = []
            self._lock = threading.RLock()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open(self.path)
            self._local.conn = conn
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading (a consistent snapshot within one statement)."""
        if self._shared is not None:
            with self._lock:
                yield self._shared
            return
        yield self._current()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside `BEGIN IMMEDIATE`; commits on success, rolls back on any error."""
        if self._shared is not None:
            with self._lock:
                yield from _transaction(self._shared, self.path)
            return
        conn = self._current()
        try:
            yield from _transaction(conn, self.path)
        except StoreError:
            # A connection opened while the file was read-only (or the disk full) keeps failing
            # after the cause is gone; the next attempt opens a fresh one.
            self._local.conn = None
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            raise

    def close(self) -> None:
        """Close every connection this process opened."""
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    continue
            self._all = []
        self._local = threading.local()
        self._shared = None


def _transaction(conn: sqlite3.Connection, path: str) -> Iterator[sqlite3.Connection]:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise StoreError(_explain(path, exc)) from None
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        raise StoreError(_explain(path, exc)) from None
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        return  # SQLite already rolled back (e.g. after SQLITE_FULL)


def _explain(path: str, exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{path}: the database is locked by another process (waited {BUSY_TIMEOUT_MS} ms)"
    if "readonly" in text or "read-only" in text:
        return f"{path}: the database is read-only"
    if "full" in text:
        return f"{path}: the disk or database is full"
    return f"{path}: {text}"


def is_damage(exc: sqlite3.Error) -> bool:
    """The file is not a sound SQLite database (as opposed to locked, missing or unreadable)."""
    return "malformed" in str(exc) or "not a database" in str(exc)


def damaged(path: str, problem: str) -> str:
    """What to tell an operator whose database file is damaged, and what to do about it."""
    return (
        f"{path}: the database file is damaged ({problem}); trackwell will not serve from it."
        f" Stop every process using it, move it aside with its -wal and -shm files, and restore"
        f" a backup, or salvage what is readable with `sqlite3 {path} .recover | sqlite3 NEW.db`"
        f" and point the store at NEW.db"
    )
