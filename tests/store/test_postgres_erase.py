"""Erase on PostgreSQL: nothing of the person in any table, index scans only, and no write
racing the erase stores the person's messages after it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.postgres import fresh_schema_url, postgres_database
from tests.store.busy import Person, fill
from tests.store.contract import HOOK, NOW, track
from trackwell.pipeline.accept import prepare
from trackwell.plan import Plan
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store import Store, open_store
from trackwell.store.postgres.store import split_url

__all__ = ["postgres_database"]


@pytest.fixture
def compiled(example_plan: Plan) -> CompiledPlan:
    return compile_plan(example_plan)


@pytest.fixture
def url(postgres_database: str) -> str:
    return fresh_schema_url(postgres_database)


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def connect(url: str) -> psycopg.Connection[Any]:
    """A plain connection to the store's schema."""
    conninfo, schema, *_ = split_url(url)
    return psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={schema}")


def found_in_tables(url: str, needle: str) -> dict[str, int]:
    """Rows of every table of the schema (log partitions included) whose text holds `needle`:
    every column as text, byte columns read as text too."""
    found: dict[str, int] = {}
    with connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ]
        for table in tables:
            columns = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s",
                (table,),
            ).fetchall()
            text = " || ' ' || ".join(
                f"coalesce(encode({name}, 'escape'), '')"
                if kind == "bytea"
                else f"coalesce({name}::text, '')"
                for name, kind in columns
            )
            count = conn.execute(
                f'SELECT count(*) FROM "{table}" WHERE ({text}) LIKE %s', (f"%{needle}%",)
            ).fetchone()
            if count and count[0]:
                found[table] = int(count[0])
    return found


def test_an_erased_person_is_in_no_table(store: Store, url: str, compiled: CompiledPlan) -> None:
    people = fill(store, compiled, people=40)
    chosen, other = people[12], people[13]
    for needle in chosen.identifiers:
        assert found_in_tables(url, needle), needle  # the search finds them before

    request = store.erase(
        store.resolve(chosen.visitor), request_id="r", actor="cli", destinations=[HOOK], now_ms=1
    )
    assert request.erased["log"] == 29
    (job,) = store.claim_privacy_jobs(HOOK, now_ms=2)
    assert job.subject.user_ids == (chosen.user,)
    store.settle_privacy_job("r", HOOK, "done", detail="204", next_ms=None, now_ms=3)
    for needle in chosen.identifiers:
        assert found_in_tables(url, needle) == {}, needle
    for needle in other.identifiers:
        assert found_in_tables(url, needle), needle


def test_the_erase_deletes_go_through_indexes(
    store: Store, url: str, compiled: CompiledPlan
) -> None:
    fill(store, compiled, people=5)
    person = Person(1)
    ids = (person.user, person.visitor)
    statements = [
        ("log", "user_id"),
        ("log", "anonymous_id"),
        ("blocked", "user_id"),
        ("blocked", "anonymous_id"),
        ("profiles", "user_id"),
        ("profile_emails", "user_id"),
        ("identities", "user_id"),
        ("identities", "anonymous_id"),
        ("merges", "user_id"),
        ("merges", "anonymous_id"),
    ]
    with connect(url) as conn:
        # An index that can serve the statement is used once a scan is priced out; without
        # one the plan stays a Seq Scan (at any price).
        conn.execute("SET enable_seqscan = off")
        for table, column in statements:
            plan = "\n".join(
                row[0]
                for row in conn.execute(
                    f"EXPLAIN DELETE FROM {table} WHERE {column} IN (%s, %s)", ids
                )
            )
            assert "Seq Scan" not in plan, f"{table}.{column}\n{plan}"
        for table in ("deliveries", "delivery_history"):
            plan = "\n".join(
                row[0] for row in conn.execute(f"EXPLAIN DELETE FROM {table} WHERE seq IN (1, 2)")
            )
            assert "Seq Scan" not in plan, f"{table}\n{plan}"


def test_no_write_racing_an_erase_stores_the_persons_messages_after_it(
    url: str, compiled: CompiledPlan
) -> None:
    writer, eraser = open_store(url), open_store(url)  # two processes' worth of caches
    try:
        writer.write_batch([prepare(compiled, track("seed", "racer"), NOW)])
        stop = threading.Event()
        written: list[Any] = []
        failures: list[BaseException] = []

        def write() -> None:
            number = 0
            try:
                while not stop.is_set():
                    batch = [
                        prepare(compiled, track(f"r{number}-{k}", "racer"), NOW) for k in range(20)
                    ]
                    batch.append(prepare(compiled, track(f"o{number}", "bystander"), NOW))
                    written.extend(writer.write_batch(batch))
                    number += 1
            except BaseException as exc:  # reported by the test thread
                failures.append(exc)

        threads = [threading.Thread(target=write) for _ in range(3)]
        for thread in threads:
            thread.start()
        while len(written) < 300:
            stop.wait(0.01)
        eraser.erase(
            eraser.resolve("racer"), request_id="r", actor="cli", destinations=[], now_ms=1
        )
        after_erase = len(written)
        while len(written) < after_erase + 300:
            stop.wait(0.01)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not failures, failures
        assert eraser.timeline("racer").entries == ()
        assert writer.timeline("racer").entries == ()
        assert writer.profile("racer") is None
        assert len(writer.timeline("bystander").entries) > 10
        dropped = [w for w in written if w.dropped == "erased"]
        assert dropped and all(w.message_id.startswith("r") for w in dropped)
    finally:
        writer.close()
        eraser.close()
