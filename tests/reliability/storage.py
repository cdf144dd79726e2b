"""Storage faults for the reliability suite: a disk that fills up, and another process holding
the database's write lock."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackwell.store.sqlite import connection as sqlite_connection

MAX_PAGES = 4_294_967_294


class Disk:
    """A folder whose disk can be filled up and freed again."""

    kind = "disk"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fill(self) -> None:
        raise NotImplementedError

    def free(self) -> None:
        raise NotImplementedError


class Tmpfs(Disk):
    """A size-limited tmpfs mounted on the folder (root only): filled with a real file."""

    kind = "tmpfs"

    def fill(self) -> None:
        filler = self.folder / "filler"
        with filler.open("ab", buffering=0) as out:
            for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
                try:
                    while True:
                        out.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / "filler").unlink()


class PageCap(Disk):
    """Where no filesystem can be mounted: SQLite's `max_page_count` on every connection of the
    store, which fails writes with SQLITE_FULL exactly as a full disk does (the spill file and
    anything outside SQLite are not affected)."""

    kind = "max_page_count"

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(folder)
        self.full = False
        self.connections: list[sqlite3.Connection] = []
        original = sqlite_connection.Connections._open
        disk = self

        def _open(
            self: sqlite_connection.Connections, target: str, *, uri: bool = False
        ) -> sqlite3.Connection:
            conn = original(self, target, uri=uri)
            disk.connections.append(conn)
            if disk.full:
                disk._cap(conn)
            return conn

        monkeypatch.setattr(sqlite_connection.Connections, "_open", _open)

    def _cap(self, conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0] if self.full else MAX_PAGES
        with contextlib.suppress(sqlite3.Error):
            conn.execute(f"PRAGMA max_page_count = {pages}")

    def fill(self) -> None:
        self.full = True
        for conn in list(self.connections):
            self._cap(conn)

    def free(self) -> None:
        self.full = False
        for conn in list(self.connections):
            self._cap(conn)


@contextlib.contextmanager
def small_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str = "12m"
) -> Iterator[Disk]:
    """A tmpfs of `size` when this process may mount one (root), else a SQLite page cap.

    TRACKWELL_TEST_NO_MOUNT=1 forces the page cap (to exercise that path on a root machine)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount = shutil.which("mount")
    if (
        os.geteuid() == 0
        and mount is not None
        and not os.environ.get("TRACKWELL_TEST_NO_MOUNT")
        and subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    ):
        try:
            yield Tmpfs(folder)
        finally:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        return
    yield PageCap(folder, monkeypatch)


# -- another process holding the lock ---------------------------------------------------------

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def locked_by_another_process(db: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate Python process holds `BEGIN EXCLUSIVE` on the database until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write("\n")
                proc.stdin.flush()
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
