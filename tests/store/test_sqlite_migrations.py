"""Migrations: a store made by an earlier version opens, and keeps what it had (SQLite; 0007_privacy
on PostgreSQL too)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.postgres import postgres_database
from trackwell.store import open_store
from trackwell.store.sqlite import schema

__all__ = ["postgres_database"]


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


@pytest.mark.parametrize("url_kind", ["sqlite", "postgresql"])
def test_an_older_stores_profiles_are_found_by_email_after_0007(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, url_kind: str
) -> None:
    if url_kind == "sqlite":
        path = tmp_path / "old.db"
        url = f"sqlite:///{path}"
        conn = sqlite3.connect(path, isolation_level=None)
        with monkeypatch.context() as patched:
            patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:6])
            schema.migrate(conn)
        insert = conn.execute
    else:
        import psycopg

        from tests.postgres import fresh_schema_url
        from trackwell.store.postgres import schema as pg_schema
        from trackwell.store.postgres.connection import Adapter
        from trackwell.store.postgres.store import split_url

        url = fresh_schema_url(request.getfixturevalue("postgres_database"))
        conninfo, name, *_ = split_url(url)
        raw = psycopg.connect(conninfo, autocommit=True)
        raw.execute(f'CREATE SCHEMA "{name}"')
        raw.execute(f'SET search_path = "{name}"')
        adapter = Adapter(raw)
        with monkeypatch.context() as patched:
            patched.setattr(pg_schema, "MIGRATIONS", pg_schema.MIGRATIONS[:3])
            pg_schema.migrate(adapter)
        insert = adapter.execute  # type: ignore[assignment]
    for user, traits in [
        ("ann", '{"email":" Ann@Example.com","name":"Ann"}'),
        ("bob", '{"name":"Bob","nested":{"email":"not-bob@example.com"}}'),
        ("cy", '{"email":42}'),
    ]:
        insert("INSERT INTO profiles VALUES (?, ?, '{}', 1, 2)", (user, traits))
    if url_kind == "sqlite":
        conn.close()
    else:
        raw.close()

    store = open_store(url)
    try:
        assert store.resolve("ann@example.com").user_ids == ("ann",)
        assert store.resolve("not-bob@example.com").user_ids == ()
        assert store.resolve("bob").emails == ()
    finally:
        store.close()
