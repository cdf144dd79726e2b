"""Retention on real stores: old rows go (whole partitions on PostgreSQL, bounded key ranges on
SQLite) with what points into them, recent rows stay, and the queues keep working."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends import any_store, feature, postgres_database
from tests.postgres import fresh_schema_url
from tests.store.days import NOW_MS, TODAY, catalogue_partitions, received
from trackwell.core.time import DAY_MS
from trackwell.pipeline.accept import accept
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store import DeliveryResult, Store, open_store
from trackwell.store.postgres.dialect import partition_name
from trackwell.store.sql.store import SQLStore
from trackwell.store.sqlite import SQLiteStore, schema

__all__ = ["any_store", "postgres_database"]

HOOK = "hook"
# Days before today on which messages arrive in these tests; a 7-day retention keeps the last 3.
DAYS = (20, 12, 8, 7, 3, 0)


@pytest.fixture
def compiled(example_plan: object) -> CompiledPlan:
    return compile_plan(example_plan)  # type: ignore[arg-type]


def write_days(store: Store, compiled: CompiledPlan, per_day: int = 3) -> None:
    """`per_day` messages and one blocked message on each day of DAYS."""
    for days_ago in DAYS:
        items: list[dict[str, Any]] = [feature(days_ago * 100 + n, f"u{n}") for n in range(per_day)]
        items.append({**feature(days_ago * 100 + 99), "event": "Feature Usedd"})
        accept(store, compiled, items, received_at=received(days_ago))


def test_old_days_go_on_both_backends_and_partitions_leave_the_catalogue(
    any_store: Store, compiled: CompiledPlan
) -> None:
    write_days(any_store, compiled)
    assert any_store.count() == 3 * len(DAYS)
    counted = any_store.volume(TODAY - 30, TODAY + 1)
    assert {row.day for row in counted} >= {TODAY - 20, TODAY - 12}

    report = any_store.apply_retention(log_days=7, blocked_days=7, now_ms=NOW_MS)

    old = [d for d in DAYS if d > 7]
    assert (report.log_rows, report.blocked_rows) == (3 * len(old), len(old))
    assert report.log_cutoff_ms == (TODAY - 7) * DAY_MS
    assert any_store.count() == 3 * (len(DAYS) - len(old))
    for days_ago in DAYS:
        kept = days_ago <= 7
        for n in (0, 1, 2, 99):
            entry = any_store.get(f"f-{days_ago * 100 + n}")
            assert (entry is not None) == kept, (days_ago, n)
    # The counts stay: monitors and charts keep their history.
    assert any_store.volume(TODAY - 30, TODAY + 1) == counted
    # A resend of a message inside the dedup window is still a duplicate.
    [again] = accept(any_store, compiled, [feature(300)], received_at=received(0))
    assert again.duplicate
    if "postgresql" in any_store.url:
        names = {partition_name(TODAY - d) for d in old}
        assert set(report.partitions_dropped) == names
        left = catalogue_partitions(any_store.url)
        assert not names & left
        assert {partition_name(TODAY - d) for d in DAYS if d <= 7} <= left
    else:
        assert report.partitions_dropped == ()


def test_a_dry_run_counts_what_a_pass_removes_and_removes_nothing(
    any_store: Store, compiled: CompiledPlan
) -> None:
    any_store.register_destination(HOOK)
    write_days(any_store, compiled)
    claimed = any_store.claim(HOOK, 100, NOW_MS)
    dead = next(d for d in claimed if d.message["messageId"] == "f-1200")
    results = [DeliveryResult(d.seq, "delivered") for d in claimed if d is not dead]
    any_store.ack(HOOK, [*results, DeliveryResult(dead.seq, "dead", error="400")], NOW_MS)

    preview = any_store.apply_retention(log_days=7, blocked_days=3, now_ms=NOW_MS, dry_run=True)
    assert preview.dry_run
    assert any_store.count() == 3 * len(DAYS)
    assert any_store.get("f-1200") is not None
    assert len(any_store.dead_letters(HOOK)) == 1

    done = any_store.apply_retention(log_days=7, blocked_days=3, now_ms=NOW_MS)
    assert not done.dry_run
    assert (preview.log_rows, preview.blocked_rows, preview.delivery_rows) == (
        done.log_rows,
        done.blocked_rows,
        done.delivery_rows,
    )
    assert preview.partitions_dropped == done.partitions_dropped
    assert (done.log_rows, done.blocked_rows, done.delivery_rows) == (3 * 3, 4, 2)
    assert any_store.dead_letters(HOOK) == []


def test_the_queue_keeps_delivering_after_the_whole_log_is_removed(
    any_store: Store, compiled: CompiledPlan
) -> None:
    any_store.register_destination(HOOK)
    accept(any_store, compiled, [feature(n) for n in range(5)], received_at=received(12))
    claimed = any_store.claim(HOOK, 10, NOW_MS)
    any_store.ack(HOOK, [DeliveryResult(d.seq, "delivered") for d in claimed], NOW_MS)
    highest = max(d.seq for d in claimed)

    report = any_store.apply_retention(log_days=7, blocked_days=None, now_ms=NOW_MS)
    assert report.log_rows == 5 and any_store.count() == 0

    # The cursor is past every removed position: a new message must get a position after it.
    [result] = accept(any_store, compiled, [feature(10)])
    assert result.seq is not None and result.seq > highest
    assert [d.message["messageId"] for d in any_store.claim(HOOK, 10, NOW_MS)] == ["f-10"]


def test_retrying_waiting_and_captured_entries_of_removed_messages_go_and_hold_no_one_back(
    any_store: Store, compiled: CompiledPlan
) -> None:
    any_store.register_destination(HOOK)
    accept(any_store, compiled, [feature(1, "p"), feature(2, "q")], received_at=received(12))
    first, captured = any_store.claim(HOOK, 10, NOW_MS)
    later = NOW_MS + 3_600_000
    any_store.ack(
        HOOK,
        [
            DeliveryResult(first.seq, "retry", later, "503"),
            DeliveryResult(captured.seq, "captured", error="capture mode"),
        ],
        NOW_MS,
    )
    accept(any_store, compiled, [feature(3, "p")], received_at=received(12))
    assert any_store.claim(HOOK, 10, NOW_MS) == []  # p's second message waits behind the retry
    [stats] = any_store.delivery_stats(NOW_MS)
    assert (stats.retry, stats.waiting, stats.captured) == (1, 1, 1)

    report = any_store.apply_retention(log_days=7, blocked_days=None, now_ms=NOW_MS)

    assert report.log_rows == 3
    [stats] = any_store.delivery_stats(NOW_MS)
    assert (stats.retry, stats.waiting, stats.captured, stats.dead) == (0, 0, 0, 0)
    assert any_store.delivery_errors(HOOK) == []
    # p is no longer held back by a retry that is gone: a new message goes at once.
    accept(any_store, compiled, [feature(4, "p")])
    assert [d.message["messageId"] for d in any_store.claim(HOOK, 10, later)] == ["f-4"]


def test_an_ack_of_a_message_removed_while_in_flight_records_nothing(
    any_store: Store, compiled: CompiledPlan
) -> None:
    any_store.register_destination(HOOK)
    accept(any_store, compiled, [feature(1, "p")], received_at=received(12))
    [in_flight] = any_store.claim(HOOK, 10, NOW_MS)
    any_store.apply_retention(log_days=7, blocked_days=None, now_ms=NOW_MS)

    any_store.ack(HOOK, [DeliveryResult(in_flight.seq, "retry", NOW_MS + 1000, "503")], NOW_MS)

    [stats] = any_store.delivery_stats(NOW_MS)
    assert (stats.retry, stats.dead, stats.in_flight) == (0, 0, 0)
    accept(any_store, compiled, [feature(2, "p")])
    assert [d.message["messageId"] for d in any_store.claim(HOOK, 10, NOW_MS)] == ["f-2"]


def test_the_timeline_no_longer_shows_removed_messages(
    any_store: Store, compiled: CompiledPlan
) -> None:
    write_days(any_store, compiled, per_day=1)
    any_store.apply_retention(log_days=7, blocked_days=7, now_ms=NOW_MS)
    ids = [e.message["messageId"] for e in any_store.timeline("u0").entries]
    assert sorted(ids) == sorted(f"f-{d * 100}" for d in DAYS if d <= 7)
    profile = any_store.profile("u0")
    assert profile is not None  # people are not the log: their profile stays


def test_two_passes_at_once_drop_each_partition_once(
    postgres_database: str, compiled: CompiledPlan
) -> None:
    url = fresh_schema_url(postgres_database)
    stores = [open_store(url), open_store(url)]
    try:
        write_days(stores[0], compiled)
        reports: list[Any] = []
        errors: list[BaseException] = []

        def run(store: Store) -> None:
            try:
                reports.append(store.apply_retention(log_days=7, blocked_days=7, now_ms=NOW_MS))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        dropped = [name for report in reports for name in report.partitions_dropped]
        assert sorted(dropped) == sorted(partition_name(TODAY - d) for d in DAYS if d > 7)
        assert sum(r.log_rows for r in reports) == 9
        assert stores[0].count() == 3 * 3
    finally:
        for store in stores:
            store.close()


# -- SQLite: the key ranges ---------------------------------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    assert isinstance(store, SQLiteStore)
    try:
        yield store
    finally:
        store.close()


def traced(store: SQLiteStore) -> list[tuple[float, str]]:
    """Every statement this thread's connection runs from now on, with when it started."""
    statements: list[tuple[float, str]] = []
    conn = store.connections._current()
    conn.set_trace_callback(lambda sql: statements.append((time.monotonic(), sql)))
    return statements


def transactions(statements: list[tuple[float, str]]) -> list[list[tuple[float, str]]]:
    """Statements grouped by transaction (BEGIN IMMEDIATE ... COMMIT)."""
    groups: list[list[tuple[float, str]]] = []
    current: list[tuple[float, str]] | None = None
    for at, sql in statements:
        if sql.startswith("BEGIN"):
            current = []
        elif sql == "COMMIT" and current is not None:
            current.append((at, sql))
            groups.append(current)
            current = None
            continue
        if current is not None:
            current.append((at, sql))
    return groups


def test_sqlite_deletes_a_bounded_range_per_transaction_and_a_writer_gets_in_between(
    sqlite_store: SQLiteStore, compiled: CompiledPlan, tmp_path: Path
) -> None:
    accept(sqlite_store, compiled, [feature(n) for n in range(600)], received_at=received(12))
    accept(sqlite_store, compiled, [feature(n) for n in range(600, 610)])
    sqlite_store.retention_chunk = 50
    statements = traced(sqlite_store)
    stop = threading.Event()
    commits: list[tuple[float, float]] = []  # (started, committed) of the other writer's batches

    def write_meanwhile() -> None:
        other = open_store(sqlite_store.url)  # another connection, as another process would have
        try:
            n = 1000
            while not stop.is_set():
                started = time.monotonic()
                accept(other, compiled, [feature(n)])
                commits.append((started, time.monotonic()))
                n += 1
                time.sleep(0.005)  # a busy gateway, not one that never lets go of the lock
        finally:
            other.close()

    writer = threading.Thread(target=write_meanwhile)
    writer.start()
    try:
        time.sleep(0.2)
        report = sqlite_store.apply_retention(log_days=7, blocked_days=None, now_ms=NOW_MS)
    finally:
        stop.set()
        writer.join(30)
    assert report.log_rows == 600
    deleting = [t for t in transactions(statements) if any("DELETE FROM log" in s for _, s in t)]
    assert len(deleting) == 600 // 50  # a chunk of positions per transaction, never the whole
    first_commit, last_commit = deleting[0][-1][0], deleting[-1][-1][0]
    between = [c for c in commits if first_commit < c[1] < last_commit]
    assert between, "no other writer committed while retention ran"
    waits = [committed - started for started, committed in commits]
    assert max(waits) < 2.0
    assert sqlite_store.count() == 10 + len(commits)


def test_sqlite_finds_the_cut_with_a_few_index_lookups(
    sqlite_store: SQLiteStore, compiled: CompiledPlan
) -> None:
    for days_ago in (12, 9, 3):
        accept(
            sqlite_store,
            compiled,
            [feature(days_ago * 1000 + n) for n in range(300)],
            received_at=received(days_ago),
        )
    statements = traced(sqlite_store)
    report = sqlite_store.apply_retention(
        log_days=7, blocked_days=None, now_ms=NOW_MS, dry_run=True
    )
    assert report.log_rows == 600
    probes = [sql for _, sql in statements if sql.startswith("SELECT received_ms FROM log")]
    assert 1 <= len(probes) <= 12  # log2 of 900 positions, plus the first look
    with sqlite_store.connections.read() as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT received_ms FROM log WHERE seq >= ? ORDER BY seq LIMIT 1",
            (1,),
        ).fetchall()
    assert "SEARCH log USING INTEGER PRIMARY KEY" in " ".join(str(row[-1]) for row in plan)
    assert not any("SCAN" in str(row[-1]) for row in plan)


def test_an_older_sqlite_store_gains_the_position_floor_and_keeps_its_rows(
    tmp_path: Path, compiled: CompiledPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as patched:
        # The store as the version before retention left it, with one message of 12 days ago.
        patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:6])
        schema.migrate(conn)
    received_ms = int(received(12).timestamp() * 1000)
    conn.execute(
        "INSERT INTO log (seq, message_id, type, name, user_id, timestamp_ms, received_ms, verdict,"
        " body) VALUES (1, 'f-1', 'track', 'Feature Used', 'u1', ?, ?, 'accepted', ?)",
        (received_ms, received_ms, b'{"type":"track","messageId":"f-1"}'),
    )
    conn.close()
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.count() == 1
        assert store.apply_retention(log_days=7, blocked_days=None, now_ms=NOW_MS).log_rows == 1
        [result] = accept(store, compiled, [feature(2)])
        assert result.seq == 2  # after the removed position, not a reuse of it
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM migrations ORDER BY name")]
    finally:
        conn.close()
    assert "0008_retention" in names and names == sorted(names)


def test_a_store_with_a_longer_dedup_window_refuses_a_log_retention_inside_it(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}", dedup_window_days=30)
    try:
        assert isinstance(store, SQLStore)
        with pytest.raises(ValueError, match=r"dedup window \(30 days\)"):
            store.apply_retention(log_days=14, blocked_days=None, now_ms=NOW_MS)
        store.apply_retention(log_days=30, blocked_days=1, now_ms=NOW_MS)
    finally:
        store.close()
