"""The disk fills up; another process locks the database; the database turns read-only.

The gateway must answer 503 with the reason (never 200 for what it could not store), the SDK
must keep what it can in memory and report the rest through on_error (never acknowledge), and
once the fault is gone everything flows: the ledger holds. (The SDK alone against a lock held
in-process and a read-only file: tests/sdk/test_client.py.)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sdk.test_client import read_only
from tests.server.conftest import SERVER_KEY, Harness, Recording, harness
from trackwell import Client
from trackwell.plan import Plan
from trackwell.store.sql import store as sql_store
from trackwell.store.sql.writes import DAY_MS

from .helpers import Ledger, Sequencer, log_counts, sequence_of, wait_until
from .storage import locked_by_another_process, small_disk

pytestmark = pytest.mark.anyio


async def post(h: Harness, batch: Sequence[dict[str, Any]]) -> httpx.Response:
    return await h.client.post("/v1/batch", json={"batch": list(batch)}, auth=(SERVER_KEY, ""))


def refused_clearly(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "store_unavailable"
    assert reason in body["message"] and "nothing was stored" in body["message"], body
    assert "/" not in body["message"], "the answer must not show the server's paths"


async def test_a_full_disk_gets_503_then_every_message_flows_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path, monkeypatch) as disk:
        destination = Recording()
        async with harness(disk.folder, destinations=[destination], router=False) as h:
            ledger = Ledger()
            sequencer = Sequencer("disk", [f"d{i}" for i in range(10)])
            first = sequencer.batch(50)
            assert (await post(h, first)).status_code == 200
            ledger.add(m["messageId"] for m in first)

            disk.fill()
            refused: list[list[dict[str, Any]]] = []
            for _ in range(10):
                batch = sequencer.batch(300)
                response = await post(h, batch)
                if response.status_code == 200:  # a write that fit in space SQLite already had
                    ledger.add(m["messageId"] for m in batch)
                    continue
                refused_clearly(response, "full")
                refused.append(batch)
            assert refused, f"the {disk.kind} disk never filled up"
            ready = await h.client.get("/readyz")
            assert ready.status_code == 503 and "full" in ready.text
            ledger.check_stored(disk.folder / "gateway.db")  # nothing refused was kept

            disk.free()
            for batch in refused:  # the client retries with the same ids
                response = await post(h, batch)
                assert response.status_code == 200, response.text
                ledger.add(m["messageId"] for m in batch)
            assert (await h.client.get("/readyz")).status_code == 200
            assert h.gateway.router is not None
            h.gateway.router.drain(destination.name)
            ledger.check_stored(disk.folder / "gateway.db")
            ledger.check_delivered([str(m["messageId"]) for m in destination.received])


def _track_all(client: Client, sequencer: Sequencer, count: int) -> list[str]:
    ids = []
    for message in sequencer.batch(count):
        if message["type"] == "identify":
            client.identify(message["userId"], message["traits"], message_id=message["messageId"])
        else:
            client.track(
                message["userId"],
                message["event"],
                message["properties"],
                message_id=message["messageId"],
            )
        ids.append(message["messageId"])
    return ids


def test_a_full_disk_the_sdk_keeps_its_bound_in_memory_reports_the_rest_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_plan: Plan
) -> None:
    with small_disk(tmp_path, monkeypatch, size="4m") as disk:
        db = disk.folder / "sdk.db"
        errors: list[Exception] = []
        client = Client(
            example_plan,
            f"sqlite:///{db}",
            max_queue_size=400,
            flush_interval=0.02,
            on_error=errors.append,
        )
        try:
            sequencer = Sequencer("sdk", [f"s{i}" for i in range(8)])
            before = _track_all(client, sequencer, 40)
            assert client.flush(5)
            disk.fill()
            during = _track_all(client, sequencer, 1500)
            assert client.flush(1.0) is False, "acknowledged what a full disk cannot hold"
            assert wait_until(lambda: any("full" in str(e) for e in errors), 5), errors[:3]
            dropped = client.stats.dropped
            reported = [e for e in errors if "dropped" in str(e)]
            assert len(reported) == dropped  # every message it could not keep was reported
            stored_while_full = log_counts(db)
            assert set(stored_while_full) <= set(before) | set(during)

            disk.free()
            started = time.monotonic()
            # The first flush to see everything kept written answers for the drops: False, at
            # once (not after its timeout); the next one, with nothing new lost, is True.
            assert client.flush(15) is (dropped == 0)
            assert time.monotonic() - started < 10
            assert client.flush(5) is True
        finally:
            client.close(5)
        counts = log_counts(db)
        assert max(counts.values()) == 1
        kept = [i for i in before + during if i in counts]
        assert set(before) <= set(counts)
        # Everything not reported as dropped is stored, and the queue held at least its bound.
        assert len(kept) == len(before) + len(during) - dropped
        assert len(during) - dropped >= 400
        # What was kept keeps each person's order (a dropped message leaves a gap, not a swap).
        positions = _positions(db)
        for person in {sequence_of(i)[0] for i in kept}:
            mine = sorted(
                (i for i in kept if sequence_of(i)[0] == person), key=lambda i: sequence_of(i)[1]
            )
            assert [positions[i] for i in mine] == sorted(positions[i] for i in mine)


def _positions(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {str(m): int(s) for m, s in conn.execute("SELECT message_id, seq FROM log")}
    finally:
        conn.close()


def test_a_full_spill_disk_never_stops_the_sdk_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_plan: Plan
) -> None:
    """The store is locked (the queue fills and spills) and the spill file's disk is full: what
    cannot be kept is reported and dropped, and the writer goes on once the lock is gone."""
    monkeypatch.setattr("trackwell.store.sqlite.connection.BUSY_TIMEOUT_MS", 100)
    db = tmp_path / "sdk.db"
    with small_disk(tmp_path, monkeypatch, size="2m") as disk:
        if disk.kind != "tmpfs":
            pytest.skip("needs a real full disk under the spill file (mount, as root)")
        errors: list[Exception] = []
        client = Client(
            example_plan,
            f"sqlite:///{db}",
            spill_dir=disk.folder,
            max_queue_size=100,
            flush_interval=0.02,
            on_error=errors.append,
        )
        try:
            sequencer = Sequencer("spill", [f"v{i}" for i in range(4)])
            before = _track_all(client, sequencer, 10)
            assert client.flush(5)
            disk.fill()
            with locked_by_another_process(db):
                during = _track_all(client, sequencer, 300)
                assert client.flush(0.3) is False
            assert client.stats.dropped > 0
            assert len([e for e in errors if "dropped" in str(e)]) == client.stats.dropped
            assert client.flush(10) is False  # the kept ones are written; the drops are told
            assert client.flush(1) is True
            later = _track_all(client, sequencer, 20)  # the writer is alive: new calls land
            assert client.flush(5) is True
        finally:
            client.close(5)
    counts = log_counts(db)
    kept = before + during[:100] + later
    assert all(counts.get(i) == 1 for i in kept), "a message the outbox kept was lost"
    assert len(counts) == len(before) + len(during) + len(later) - client.stats.dropped


async def test_a_database_locked_by_another_process_gets_503_and_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("trackwell.store.sqlite.connection.BUSY_TIMEOUT_MS", 300)
    destination = Recording()
    async with harness(tmp_path, destinations=[destination], router=False) as h:
        ledger = Ledger()
        sequencer = Sequencer("lock", [f"l{i}" for i in range(5)])
        first = sequencer.batch(20)
        assert (await post(h, first)).status_code == 200
        ledger.add(m["messageId"] for m in first)
        refused = sequencer.batch(20)
        with locked_by_another_process(tmp_path / "gateway.db"):
            started = time.monotonic()
            response = await post(h, refused)
            refused_clearly(response, "locked")
            assert time.monotonic() - started < 5
        ledger.check_stored(tmp_path / "gateway.db")
        response = await post(h, refused)
        assert response.status_code == 200
        ledger.add(m["messageId"] for m in refused)
        assert h.gateway.router is not None
        h.gateway.router.drain(destination.name)
        ledger.check_stored(tmp_path / "gateway.db")
        ledger.check_delivered([str(m["messageId"]) for m in destination.received])


async def test_a_read_only_database_gets_503_and_nothing_is_stored(tmp_path: Path) -> None:
    destination = Recording()
    db = tmp_path / "gateway.db"
    async with harness(tmp_path, destinations=[destination], router=False) as h:
        ledger = Ledger()
        sequencer = Sequencer("ro", [f"r{i}" for i in range(5)])
        first = sequencer.batch(20)
        assert (await post(h, first)).status_code == 200
        ledger.add(m["messageId"] for m in first)
        refused = sequencer.batch(20)
        # The database and its log, not the shared-memory index SQLite has mapped (writing a
        # mapped page of an immutable file is a SIGBUS, not an error a program can answer).
        # Writes through the open files now fail as on a disk remounted read-only (EPERM/EROFS:
        # SQLite's "disk I/O error").
        files = [p for p in (db, db.with_name("gateway.db-wal")) if p.exists()]
        with read_only(*files):
            response = await post(h, refused)
            refused_clearly(response, "read-only")
            ledger.check_stored(db)
        response = await post(h, refused)
        assert response.status_code == 200, response.text
        ledger.add(m["messageId"] for m in refused)
        assert h.gateway.router is not None
        h.gateway.router.drain(destination.name)
        ledger.check_stored(db)
        ledger.check_delivered([str(m["messageId"]) for m in destination.received])


async def test_a_full_disk_at_the_days_first_write_leaves_no_503_once_space_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's dedup table used to be made in the day's first write: when that write failed
    on a full disk, the table went with it, and every write after the space came back failed
    (`no such table: dedup_YYYYMMDD`) until a restart."""
    with small_disk(tmp_path, monkeypatch) as disk:
        async with harness(disk.folder, router=False) as h:
            sequencer = Sequencer("day", [f"d{i}" for i in range(10)])
            assert (await post(h, sequencer.batch(50))).status_code == 200
            # Midnight passes: two days on, past the tomorrow made ahead of traffic.
            later = (int(time.time() * 1000) // DAY_MS + 2) * DAY_MS + 1000
            monkeypatch.setattr(sql_store, "_now_ms", lambda: later)
            disk.fill()
            refused = []
            for _ in range(5):
                batch = sequencer.batch(300)
                response = await post(h, batch)
                if response.status_code != 200:
                    refused_clearly(response, "full")
                    refused.append(batch)
            assert refused, f"the {disk.kind} disk never filled up"
            disk.free()
            for batch in refused:
                response = await post(h, batch)
                assert response.status_code == 200, response.text
            assert (await h.client.get("/readyz")).status_code == 200
