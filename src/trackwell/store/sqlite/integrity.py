"""Integrity checks of a SQLite store: at start (a gateway never acknowledges writes into a
damaged file), and on demand, read-only, for `trackwell store check`."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from trackwell.store.base import StoreCheck, StoreError
from trackwell.store.sqlite.connection import BUSY_TIMEOUT_MS, damaged, is_damage

log = logging.getLogger("trackwell.store")

# `PRAGMA quick_check` reads every page: measured 2.2 s for a 374 MB file (about 6 ms per MB,
# cached) on the project's 2-core machine. Files up to this size are always checked (about 1.5 s
# at most); a larger one only when the last process using it did not close it cleanly (its WAL
# file is still there and not empty), which is when a crash or a failing disk can have damaged
# it. A clean close checkpoints the WAL into the file and deletes it.
ALWAYS_CHECK_BYTES = 256 * 1024 * 1024
# What `PRAGMA quick_check` reports for a sound file.
_SOUND = [("ok",)]
# The first problems quick_check finds are enough to name the damage.
_PROBLEMS_SHOWN = 3
# On demand, an operator sees more of them, still bounded: a badly damaged file lists thousands.
PROBLEMS_LISTED = 20
# How fast each check reads a cached file, for the notice a long check gives first: quick_check
# at the slowest figure measured (the 6 ms per MB above); integrity_check, which also compares
# every index with its table, 3-4x slower than quick_check (`python bench/bench_store_check.py`:
# 464 and 114 MB/s on a 201 MB store, 477 and 158 MB/s on a 155 MB one, on a busy 2-core machine).
QUICK_CHECK_BYTES_PER_S = 170 * 1024 * 1024
INTEGRITY_CHECK_BYTES_PER_S = QUICK_CHECK_BYTES_PER_S // 4


def needs_check(path: str) -> bool:
    """Whether the file at `path` should be checked before it is opened for writes: small, or
    not closed cleanly. Call before opening it (opening creates the WAL file)."""
    try:
        size = Path(path).stat().st_size
    except FileNotFoundError:
        return False  # a new store: nothing to check
    try:
        unclean = Path(f"{path}-wal").stat().st_size > 0
    except FileNotFoundError:
        unclean = False
    return unclean or size <= ALWAYS_CHECK_BYTES


def check_integrity(conn: sqlite3.Connection, path: str) -> None:
    """Raise StoreError naming the file and what to do when `PRAGMA quick_check` finds damage."""
    started = time.perf_counter()
    rows = conn.execute(f"PRAGMA quick_check({_PROBLEMS_SHOWN})").fetchall()
    if rows != _SOUND:
        raise StoreError(damaged(path, "; ".join(str(row[0]) for row in rows)))
    log.info(
        "store integrity checked",
        extra={"fields": {"seconds": round(time.perf_counter() - started, 3)}},
    )


def estimated_seconds(size_bytes: int, *, full: bool = False) -> float:
    """About how long checking a file of `size_bytes` takes (cached; a cold disk is slower)."""
    rate = INTEGRITY_CHECK_BYTES_PER_S if full else QUICK_CHECK_BYTES_PER_S
    return size_bytes / rate


def check_file(path: str, *, full: bool = False) -> StoreCheck:
    """Check an existing store file read-only: `PRAGMA quick_check` (`integrity_check` with
    `full`), and `PRAGMA foreign_key_check` when the schema declares foreign keys.

    Never creates, migrates or writes the file: a missing file or one that cannot be opened is a
    StoreError; damage is a StoreCheck listing the first problems SQLite names. Like any reader of
    a WAL database, the connection makes the -wal and -shm files if they are absent (empty), and
    reads a consistent snapshot while a gateway keeps writing.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise StoreError(f"{path}: no such store file (a check never creates one)") from None
    if not file.is_file():
        raise StoreError(f"{path}: not a file")
    pragma = "integrity_check" if full else "quick_check"
    checks = [pragma]
    started = time.perf_counter()
    try:
        # mode=ro: SQLite refuses every write on this connection, migrations included.
        conn = sqlite3.connect(
            f"file:{quote(str(file.resolve()))}?mode=ro",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the store read-only ({exc})") from None
    try:
        problems = _pragma_problems(conn, pragma, path)
        if not problems and _declares_foreign_keys(conn):
            checks.append("foreign_key_check")
            problems = _foreign_key_problems(conn)
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise StoreError(f"{path}: cannot check the store ({exc})") from None
        problems = [str(exc)]  # too damaged to read even the schema
    finally:
        conn.close()
    return StoreCheck(
        kind="sqlite",
        target=path,
        checks=tuple(checks),
        seconds=time.perf_counter() - started,
        problems=tuple(problems),
        size_bytes=size,
    )


def _declares_foreign_keys(conn: sqlite3.Connection) -> bool:
    """Whether any table of the schema declares a foreign key."""
    tables = [
        str(row[0])
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    ]
    return any(
        conn.execute("SELECT 1 FROM pragma_foreign_key_list(?) LIMIT 1", (table,)).fetchone()
        for table in tables
    )


def _foreign_key_problems(conn: sqlite3.Connection) -> list[str]:
    """The first rows whose parent row is missing, named by table and rowid only."""
    rows = conn.execute("PRAGMA foreign_key_check").fetchmany(PROBLEMS_LISTED)
    return [f"{table} rowid {rowid}: no parent row in {parent}" for table, rowid, parent, _ in rows]


def _pragma_problems(conn: sqlite3.Connection, pragma: str, path: str) -> list[str]:
    """The problems `PRAGMA quick_check` or `integrity_check` lists, one line each, at most
    PROBLEMS_LISTED; empty when the file is sound."""
    try:
        rows = conn.execute(f"PRAGMA {pragma}({PROBLEMS_LISTED})").fetchall()
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise StoreError(f"{path}: cannot check the store ({exc})") from None
        # Some damage (a b-tree page that cannot be read) stops the check with an error after
        # its first findings, and Python loses the rows already made. Asked to stop at the first
        # finding, the check returns before reaching the error.
        try:
            rows = conn.execute(f"PRAGMA {pragma}(1)").fetchall()
        except sqlite3.DatabaseError:
            rows = []
        rows.append((f"the check could not go on: {exc}",))
    if rows == _SOUND:
        return []
    lines = [line for row in rows for line in str(row[0]).splitlines()]
    # The check covers the main database only, so SQLite's heading for it says nothing.
    return [line for line in lines if line != "*** in database main ***"][:PROBLEMS_LISTED]
