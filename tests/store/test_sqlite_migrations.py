"""SQLite migrations: a store made by an earlier version opens, and keeps what it had."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from trackwell.store import open_store
from trackwell.store.sqlite import schema


def test_rollups_of_an_older_store_gain_a_captured_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    # The store as the version before `captured` left it.
    with monkeypatch.context() as patched:
        patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:5])
        schema.migrate(conn)
    conn.execute(
        "INSERT INTO rollup_deliveries VALUES (20000, 'hook', 'Signed Up', 7, 1, 2, ?, ?)",
        ("[0]", "[0]"),
    )
    conn.close()

    store = open_store(f"sqlite:///{path}")
    try:
        (row,) = store.delivery_rollups(20000, 20000)
    finally:
        store.close()
    assert (row.delivered, row.retried, row.dead, row.captured) == (7, 1, 2, 0)
