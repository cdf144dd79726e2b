"""A commit is on disk before it is acknowledged (fsync at each commit), NORMAL is an explicit
opt-in, and a damaged database file stops the gateway at start instead of being served."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PLAN
from tests.server.conftest import free_port
from trackwell import Client
from trackwell.server.storeerrors import store_reason
from trackwell.store import StoreError, open_store, sqlite_file
from trackwell.store.sqlite import SQLiteStore, integrity

# PRAGMA synchronous answers with a number: 1 is NORMAL, 2 is FULL.
NORMAL, FULL = 1, 2


def synchronous(store: SQLiteStore) -> int:
    with store.connections.write() as conn:  # the writer's own connection
        return int(conn.execute("PRAGMA synchronous").fetchone()[0])


def test_the_store_fsyncs_every_commit_unless_the_url_opts_out(tmp_path: Path) -> None:
    full = open_store(f"sqlite:///{tmp_path}/full.db")
    normal = open_store(f"sqlite:///{tmp_path}/normal.db?synchronous=normal")
    explicit = SQLiteStore(str(tmp_path / "explicit.db"))
    try:
        assert isinstance(full, SQLiteStore) and isinstance(normal, SQLiteStore)
        assert synchronous(full) == FULL
        assert synchronous(explicit) == FULL
        assert synchronous(normal) == NORMAL
        assert (tmp_path / "normal.db").exists(), "the option is not part of the file name"
    finally:
        for store in (full, normal, explicit):
            store.close()


def test_the_sdk_writer_fsyncs_every_commit(tmp_path: Path) -> None:
    client = Client(plan=EXAMPLE_PLAN, store=f"sqlite:///{tmp_path}/sdk.db")
    try:
        assert isinstance(client.store, SQLiteStore)
        assert synchronous(client.store) == FULL
    finally:
        client.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("sqlite:///x.db?synchronous=off", "synchronous must be full"),
        ("sqlite:///x.db?synchronus=normal", "unknown option synchronus"),
    ],
)
def test_a_wrong_store_option_is_refused_by_name(tmp_path: Path, url: str, words: str) -> None:
    with pytest.raises(StoreError, match=words):
        open_store(url.replace("x.db", f"{tmp_path}/x.db"))


def test_the_file_of_a_url_leaves_its_options_out() -> None:
    assert sqlite_file("sqlite:///data/t.db?synchronous=normal") == "data/t.db"
    assert sqlite_file("sqlite:////abs/t.db") == "/abs/t.db"
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://u@h/db") is None


def damage(db: Path) -> None:
    """Overwrite every page after the first with garbage, as a disk that lost its writes may."""
    store = SQLiteStore(str(db))
    store.close()
    size = db.stat().st_size
    assert size > 8 * 4096, "the fresh store should span several pages"
    with db.open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\xa5" * (size - 4096))


def test_a_damaged_file_is_refused_naming_it_and_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "damaged.db"
    damage(db)
    with pytest.raises(StoreError) as raised:
        open_store(f"sqlite:///{db}", check=True)
    message = str(raised.value)
    assert str(db) in message and "damaged" in message
    assert "restore" in message and ".recover" in message


def test_serve_will_not_start_on_a_damaged_store(tmp_path: Path) -> None:
    db = tmp_path / "damaged.db"
    damage(db)
    command = [sys.executable, "-m", "trackwell", "serve", "--store", f"sqlite:///{db}"]
    command += ["--plan", str(EXAMPLE_PLAN), "--write-key", "k" * 32, "--no-router"]
    result = subprocess.run(
        [*command, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert str(db) in result.stderr and "damaged" in result.stderr, result.stderr
    assert "listening" not in (result.stdout + result.stderr).lower()


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("disk I/O error", "input-output error"),
        ("database disk image is malformed", "damaged"),
        ("database or disk is full", "full"),
    ],
)
def test_every_disk_failure_has_a_reason_without_the_path(error: str, reason: str) -> None:
    said = store_reason(StoreError(f"/var/lib/trackwell/t.db: {error}"))
    assert reason in said and "/" not in said


def test_a_large_file_is_checked_only_after_an_unclean_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity, "ALWAYS_CHECK_BYTES", 0)  # every file counts as large
    db = tmp_path / "large.db"
    assert not integrity.needs_check(str(db)), "a new store has nothing to check"
    SQLiteStore(str(db)).close()  # a clean close removes the WAL
    assert not (tmp_path / "large.db-wal").exists()
    assert not integrity.needs_check(str(db))
    (tmp_path / "large.db-wal").write_bytes(b"\0" * 32)  # as a killed process leaves it
    assert integrity.needs_check(str(db))


def test_a_damaged_large_file_left_by_a_crash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrity, "ALWAYS_CHECK_BYTES", 0)
    db = tmp_path / "crashed.db"
    damage(db)
    (tmp_path / "crashed.db-wal").write_bytes(b"\0" * 32)
    with pytest.raises(StoreError, match="damaged"):
        open_store(f"sqlite:///{db}", check=True)
