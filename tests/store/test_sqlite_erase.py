"""Erase on SQLite: nothing of the person left in the database file or its WAL, and every
statement of an erase goes through an index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.store.busy import Person, fill
from tests.store.contract import HOOK
from trackwell.plan import Plan
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store import open_store
from trackwell.store.sqlite import SQLiteStore

# The tables of people's data: a full scan of one of these is what an erase must never do.
PERSON_TABLES = (
    "log", "blocked", "profiles", "profile_emails", "identities", "merges", "deliveries",
    "delivery_history",
)  # fmt: skip


@pytest.fixture
def compiled(example_plan: Plan) -> CompiledPlan:
    return compile_plan(example_plan)


def file_bytes(path: Path) -> bytes:
    """The database file and its WAL, as they are on disk."""
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.parametrize("close_first", [True, False])
def test_an_erased_person_is_nowhere_in_the_files(
    tmp_path: Path, compiled: CompiledPlan, close_first: bool
) -> None:
    path = tmp_path / "trackwell.db"
    store = open_store(f"sqlite:///{path}")
    people = fill(store, compiled)
    chosen, other = people[42], people[43]
    store.close()
    store = open_store(f"sqlite:///{path}")
    before = file_bytes(path)
    for needle in chosen.identifiers + other.identifiers:
        assert needle.encode() in before, needle  # the search would find them

    subject = store.resolve(chosen.email)
    assert subject.user_ids == (chosen.user,)
    request = store.erase(subject, request_id="req-42", actor="cli", destinations=[HOOK], now_ms=1)
    assert request.erased["log"] == 29 and request.erased["blocked"] == 1
    assert request.erased["deliveries"] >= 2  # the dead letter and the retry
    (job,) = store.claim_privacy_jobs(HOOK, now_ms=2)
    assert job.subject.emails == (chosen.email,)  # the tool needs them until the job settles
    store.settle_privacy_job("req-42", HOOK, "done", detail="204", next_ms=None, now_ms=3)
    if close_first:
        store.close()
    after = file_bytes(path)
    for needle in chosen.identifiers:
        assert needle.encode() not in after, needle
    for needle in other.identifiers:
        assert needle.encode() in after, needle
    if not close_first:
        store.close()
        closed = file_bytes(path)
        assert not any(n.encode() in closed for n in chosen.identifiers)


def test_every_statement_of_an_erase_searches_an_index(
    tmp_path: Path, compiled: CompiledPlan
) -> None:
    path = tmp_path / "trackwell.db"
    store = open_store(f"sqlite:///{path}")
    assert isinstance(store, SQLiteStore)
    people = fill(store, compiled, people=20)
    statements: list[str] = []
    with store.connections.read() as conn:  # the connection this thread's writes use too
        conn.set_trace_callback(statements.append)
    try:
        store.erase(
            store.resolve(people[7].user),
            request_id="r",
            actor="cli",
            destinations=[HOOK],
            now_ms=1,
        )
    finally:
        with store.connections.read() as conn:
            conn.set_trace_callback(None)
    store.close()
    checked = 0
    with sqlite3.connect(path) as conn:
        for statement in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE")):
                continue
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement)]
            for line in plan:
                scanned = line.startswith("SCAN ") and line.split()[1] in PERSON_TABLES
                assert not scanned, f"{statement}\n{plan}"
            checked += 1
    assert checked >= len(PERSON_TABLES)


def test_a_secure_delete_store_zeroes_what_it_deletes(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert isinstance(store, SQLiteStore)
    with store.connections.read() as conn:
        assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    store.close()


def test_an_erase_with_a_reader_holding_the_wal_still_completes(
    tmp_path: Path, compiled: CompiledPlan, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "trackwell.db"
    store = open_store(f"sqlite:///{path}")
    people = fill(store, compiled, people=10)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM log").fetchone()  # a snapshot held open
    try:
        request = store.erase(
            store.resolve(people[3].user), request_id="r", actor="cli", destinations=[], now_ms=1
        )
        assert request.erased["log"] == 29
        assert store.timeline(people[3].user).entries == ()
        assert "could not be checkpointed" in caplog.text  # said, not hidden
    finally:
        reader.execute("COMMIT")
        reader.close()
    store.close()
    assert people[3].user.encode() not in file_bytes(path)


def test_a_person_in_a_big_store_is_found(tmp_path: Path, compiled: CompiledPlan) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    fill(store, compiled, people=5)
    assert store.resolve(Person(2).second_visitor).user_ids == (Person(2).user,)
    store.close()
