"""Day tables (dedup `dedup_YYYYMMDD`, PostgreSQL's log partitions `log_YYYYMMDD`) are made in a
transaction of their own, ahead of traffic: a day's first write that fails can never take them
with it, and a message the store cannot hold is refused the same way on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.backends import any_store, feature, postgres_database
from trackwell.core.messages import Message
from trackwell.pipeline.accept import accept, prepare
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store import Checked, DeliveryResult, Store, StoreError
from trackwell.store.sql import store as sql_store
from trackwell.store.sql import writes
from trackwell.store.sql.store import SQLStore
from trackwell.store.sql.writes import DAY_MS, dedup_table

__all__ = ["any_store", "postgres_database"]

NUL = "\u0000"


@pytest.fixture
def compiled(example_plan: object) -> CompiledPlan:
    return compile_plan(example_plan)  # type: ignore[arg-type]


def tables(store: Store, prefix: str) -> set[str]:
    assert isinstance(store, SQLStore)
    with store._db.read() as conn:
        return store._window.dialect.tables(conn, prefix)


def today() -> int:
    return int(datetime.now(UTC).timestamp() * 1000) // DAY_MS


def test_todays_and_tomorrows_tables_exist_once_the_store_is_open(any_store: SQLStore) -> None:
    day = today()
    assert {dedup_table(day), dedup_table(day + 1)} <= tables(any_store, "dedup_")
    if "postgresql" in any_store.url:
        partitions = tables(any_store, "log_2")
        assert {"log_" + dedup_table(d).removeprefix("dedup_") for d in (day, day + 1)} <= (
            partitions
        )


@pytest.fixture
def failing_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """The next write fails after its rows are in (as a full disk or a refused value would)."""
    armed = [True]
    original = writes._People.flush

    def flush(self: writes._People) -> set[str]:
        if armed[0]:
            armed[0] = False
            raise StoreError("the disk or database is full (simulated)")
        return original(self)

    monkeypatch.setattr(writes._People, "flush", flush)
    yield armed


def test_a_failed_first_write_of_a_new_day_takes_no_table_with_it(
    any_store: SQLStore,
    compiled: CompiledPlan,
    monkeypatch: pytest.MonkeyPatch,
    failing_once: list[bool],
) -> None:
    # The clock turns to a day the store has no tables for yet (two days on: past tomorrow's).
    later = (today() + 2) * DAY_MS + 1000
    monkeypatch.setattr(sql_store, "_now_ms", lambda: later)
    received = datetime.fromtimestamp(later / 1000, UTC)
    with pytest.raises(StoreError):
        accept(any_store, compiled, [feature(1)], received_at=received)
    assert not failing_once[0]
    # Every later write of the day works: the day's tables were committed on their own.
    for n in range(2, 5):
        [result] = accept(any_store, compiled, [feature(n)], received_at=received)
        assert result.seq is not None
    [again] = accept(any_store, compiled, [feature(3)], received_at=received)
    assert again.duplicate, "dedup uses the new day's table"
    assert any_store.count() == 3
    assert dedup_table(today() + 2) in tables(any_store, "dedup_")


def test_an_old_dedup_table_is_dropped_as_the_days_turn(
    any_store: SQLStore, compiled: CompiledPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    accept(any_store, compiled, [feature(1)])
    assert dedup_table(today()) in tables(any_store, "dedup_")
    later = (today() + 10) * DAY_MS + 1000
    monkeypatch.setattr(sql_store, "_now_ms", lambda: later)
    accept(any_store, compiled, [feature(2)], received_at=datetime.fromtimestamp(later / 1000, UTC))
    assert dedup_table(today()) not in tables(any_store, "dedup_")
    assert dedup_table(today() + 10) in tables(any_store, "dedup_")


def test_nul_in_a_blocked_messages_columns_is_kept_blocked(
    any_store: SQLStore, compiled: CompiledPlan
) -> None:
    items = [
        {**feature(1), "userId": f"u{NUL}", "anonymousId": f"a{NUL}"},
        {**feature(2), "messageId": f"m{NUL}", "type": f"tr{NUL}ack"},
        {**feature(3), "event": f"Feature{NUL}Used"},
        {**feature(4), "context": {"library": {"name": f"lib{NUL}"}}},
        feature(5),
    ]
    results = accept(any_store, compiled, items)
    assert [r.verdict for r in results] == ["blocked", "blocked", "blocked", "accepted", "accepted"]
    assert [v.path for r in results[:3] for v in r.violations] == ["userId", "type", "event"]
    assert (any_store.count(), any_store.count_blocked()) == (2, 3)
    any_store.flush_rollups()  # a NUL in a source or a name never poisons a later rollup write


def test_nul_in_a_customerio_id_is_blocked(any_store: SQLStore, compiled: CompiledPlan) -> None:
    context = {"externalIds": [{"id": f"c{NUL}", "type": "cio_id", "collection": "users"}]}
    item = {**feature(1), "userId": None, "anonymousId": None, "context": context}
    [result] = accept(any_store, compiled, [item])
    assert result.verdict == "blocked"
    assert result.violations[0].path == "context.externalIds[0].id"


def test_the_sdk_path_blocks_nul_in_ids_and_names(compiled: CompiledPlan) -> None:
    now = datetime.now(UTC)
    for field, value in (("user_id", f"u{NUL}"), ("event", f"E{NUL}"), ("message_id", NUL)):
        message = Message(type="track", event="Feature Used", user_id="u1", received_at=now)
        setattr(message, field, value)
        checked = prepare(compiled, message, now)
        assert checked.verdict == "blocked", field
        assert "NUL" in checked.violations[0].message


def test_a_caller_handing_over_nul_unprepared_is_refused_before_any_write(
    any_store: SQLStore,
) -> None:
    now = datetime.now(UTC)
    message = Message(
        type="track", message_id="x", user_id=f"u{NUL}", event="E", timestamp=now, received_at=now
    )
    good = Message(type="track", message_id="y", user_id="u", event="E", timestamp=now)
    good.received_at = now
    with pytest.raises(ValueError, match="userId"):
        any_store.write_batch(
            [Checked(good, "accepted", (), b""), Checked(message, "accepted", (), b"")]
        )
    assert any_store.count() == 0
    assert any_store.write_batch([Checked(good, "accepted", (), b"")])[0].seq is not None


def test_a_tools_answer_with_a_nul_is_recorded(any_store: SQLStore, compiled: CompiledPlan) -> None:
    any_store.register_destination("hook")
    accept(any_store, compiled, [feature(1), feature(2)])
    now = int(datetime.now(UTC).timestamp() * 1000)
    first, second = any_store.claim("hook", 10, now)
    any_store.ack(
        "hook",
        [
            DeliveryResult(first.seq, "retry", now + 100, f"503 busy{NUL}"),
            DeliveryResult(second.seq, "dead", None, f"400 bad {NUL}"),
        ],
        now,
    )
    errors = any_store.delivery_errors("hook")
    assert sorted(e.detail for e in errors) == ["400 bad \ufffd", "503 busy\ufffd"]
