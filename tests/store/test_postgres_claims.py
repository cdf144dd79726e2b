"""PostgreSQL shared by processes: a batch committed mid-claim is not skipped; a new schema opens.

On PostgreSQL every statement of a claim sees the commits made before it, so a gateway's batch
can land between two statements of one claim: the claim tests put one there, deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from tests.postgres import fresh_schema_url, postgres_database
from tests.store.contract import HOOK, claimed_ids, now_ms, track
from trackwell.pipeline.accept import accept
from trackwell.plan import Plan
from trackwell.quality.compiled import compile_plan
from trackwell.store import DeliveryResult, Store, open_store
from trackwell.store.sql.dialect import Conn, Database

__all__ = ["postgres_database"]

# The claim's scan of new messages past its position (see store/sql/delivery.py).
SCAN = "SELECT seq, type, user_id, anonymous_id, body FROM log WHERE seq >"


class AfterScan:
    """A connection that runs `hook` once, right after the claim's scan of new messages."""

    def __init__(self, conn: Conn, hook: list[Callable[[], None]]) -> None:
        self._conn = conn
        self._hook = hook

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run the statement; after the scan, let the hook commit elsewhere before going on."""
        cursor = self._conn.execute(sql, params)
        if sql.startswith(SCAN) and self._hook:
            self._hook.pop()()
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class HookedDatabase:
    """The store's database, its write transactions wrapped in `AfterScan`."""

    def __init__(self, db: Database, hook: list[Callable[[], None]]) -> None:
        self._db = db
        self._hook = hook

    def write(self) -> AbstractContextManager[Any]:
        """A write transaction whose connection runs the hook after the claim's scan."""

        @contextmanager
        def wrapped() -> Iterator[Any]:
            with self._db.write() as conn:
                yield AfterScan(conn, self._hook)

        return wrapped()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@pytest.fixture
def stores(postgres_database: str) -> Iterator[tuple[Store, Store]]:
    """A router's store and a gateway's store on one fresh schema (two connection pools)."""
    url = fresh_schema_url(postgres_database)
    router = open_store(url)
    gateway = open_store(url)
    try:
        yield router, gateway
    finally:
        gateway.close()
        router.close()


@pytest.mark.parametrize("before", [0, 3], ids=["idle queue", "queue with messages"])
def test_a_batch_committed_during_a_claim_is_claimed_later(
    stores: tuple[Store, Store], example_plan: Plan, monkeypatch: pytest.MonkeyPatch, before: int
) -> None:
    router, gateway = stores
    compiled = compile_plan(example_plan)
    router.register_destination(HOOK)
    accept(gateway, compiled, [track(f"old-{i}", f"user-{i}") for i in range(before)])

    def gateway_commits() -> None:
        accept(gateway, compiled, [track(f"late-{i}", f"user-{i}") for i in range(3)])

    # The batch commits after the claim's scan read the log and before the claim commits.
    monkeypatch.setattr(router, "_db", HookedDatabase(router._db, [gateway_commits]))  # type: ignore[attr-defined]
    now = now_ms()
    first = router.claim(HOOK, 50, now)
    assert claimed_ids(first) == [f"old-{i}" for i in range(before)]
    router.ack(HOOK, [DeliveryResult(d.seq, "delivered") for d in first], now)

    # The scan never saw the late batch: the queue's position must not have passed it.
    assert claimed_ids(router.claim(HOOK, 50, now)) == ["late-0", "late-1", "late-2"]


def test_processes_opening_a_new_schema_at_once_all_start(postgres_database: str) -> None:
    # Gateways and routers of a new deployment start together: each creates the schema if it
    # is missing, and PostgreSQL's IF NOT EXISTS does not hold against a concurrent creation.
    url = fresh_schema_url(postgres_database)
    start = threading.Barrier(6)
    opened: list[Store] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_store(url))
        except BaseException as exc:  # reported below, with the others
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in opened:
        store.close()
    assert failures == [] and len(opened) == 6
