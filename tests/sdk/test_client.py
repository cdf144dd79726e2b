"""trackwell.Client over a real SQLite file: every call lands, bad input never raises or vanishes."""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import trackwell
from tests.plan.helpers import good_event, make_plan
from trackwell import Client, PlanViolation
from trackwell.plan import Plan
from trackwell.store import Store, StoreError, TimelineEntry, open_store

FEATURE = {"feature_name": "projects"}
TRAITS = {"email": "ada@example.com", "created_at": 1_700_000_000}

MakeClient = Callable[..., Client]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the store lives (its folder is made by the store)."""
    return tmp_path / "data" / "trackwell.db"


@pytest.fixture
def make_client(example_plan: Plan, db: Path) -> Iterator[MakeClient]:
    """Clients on `db` (or other options); each is closed, with its store, after the test."""
    made: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("store", f"sqlite:///{db}")
        client = Client(options.pop("plan", example_plan), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close(timeout=1)
        client.store.close()


@contextmanager
def second_store(db: Path) -> Iterator[Store]:
    """Another store on the same file: what a new process (or `trackwell timeline`) would see."""
    store = open_store(f"sqlite:///{db}")
    try:
        yield store
    finally:
        store.close()


def stored(db: Path, message_id: str) -> TimelineEntry:
    with second_store(db) as store:
        entry = store.get(message_id)
    assert entry is not None, f"{message_id} is not in the store"
    return entry


def codes(entry: TimelineEntry) -> set[str]:
    return {v["code"] for v in entry.violations}


def positions(store: Store, users: list[str]) -> dict[str, int]:
    """messageId -> log position of every logged message of these people; fails on a repeat."""
    found: dict[str, int] = {}
    for user in users:
        for entry in store.timeline(user, limit=1_000_000).entries:
            if entry.seq is None:
                continue
            message_id = entry.message["messageId"]
            assert message_id not in found, f"{message_id} is stored twice"
            found[message_id] = entry.seq
    return found


def spill_files(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f"{db.name}.spill*"))


# -- every call lands ---------------------------------------------------------------------------


def test_every_kind_of_call_is_in_the_store_after_flush(make_client: MakeClient, db: Path) -> None:
    client = make_client()
    client.page(None, "Pricing", {"page_name": "Pricing"}, anonymous_id="anon-1", message_id="pv")
    client.identify("u1", TRAITS, anonymous_id="anon-1", message_id="id")
    client.track("u1", "Feature Used", FEATURE, message_id="tr")
    client.screen("u1", "Home", message_id="sc")
    client.group("u1", "acct-1", {"name": "Acme"}, message_id="gr")
    client.alias("anon-2", "u1", message_id="al")
    assert client.flush(timeout=10) is True

    page = stored(db, "pv")
    assert (page.message["type"], page.message["name"], page.verdict) == (
        "page",
        "Pricing",
        "accepted",
    )
    assert page.message["anonymousId"] == "anon-1" and "userId" not in page.message
    identify = stored(db, "id")
    assert (
        identify.message["type"] == "identify"
        and identify.message["traits"]["email"] == TRAITS["email"]
    )
    track = stored(db, "tr")
    assert (track.message["event"], track.message["properties"], track.verdict) == (
        "Feature Used",
        FEATURE,
        "accepted",
    )
    assert track.message["context"]["library"]["name"] == "trackwell-python"
    screen = stored(db, "sc")  # the plan has no screens: kept, blocked
    assert screen.message["type"] == "screen" and screen.verdict == "blocked"
    assert "unplanned_screen" in codes(screen)
    group = stored(db, "gr")
    assert group.message["groupId"] == "acct-1" and group.message["traits"] == {"name": "Acme"}
    alias = stored(db, "al")
    assert (alias.message["previousId"], alias.message["userId"]) == ("anon-2", "u1")

    with second_store(db) as store:
        assert store.count() == 5  # the blocked screen is kept apart from the log
        timeline = store.timeline("anon-1")
        order = [e.message["messageId"] for e in timeline.entries]
        assert [i for i in order if i in ("pv", "id", "tr")] == ["pv", "id", "tr"]
        assert set(order) == {"pv", "id", "tr", "sc", "gr", "al"}
        assert set(timeline.anonymous_ids) == {"anon-1", "anon-2"}


def test_the_same_message_id_twice_is_stored_once(make_client: MakeClient, db: Path) -> None:
    client = make_client()
    assert client.track("u1", "Feature Used", FEATURE, message_id="sub-1") == "sub-1"
    client.track("u1", "Feature Used", {"feature_name": "reports"}, message_id="sub-1")
    assert client.flush(timeout=10)
    client.track("u1", "Feature Used", {"feature_name": "timeline"}, message_id="sub-1")
    assert client.flush(timeout=10)
    again = make_client()  # a retry from another process, after a restart
    again.track("u1", "Feature Used", {"feature_name": "timeline"}, message_id="sub-1")
    assert again.flush(timeout=10)

    with second_store(db) as store:
        assert store.count() == 1
    assert stored(db, "sub-1").message["properties"] == FEATURE


def test_message_ids_are_made_when_not_given_and_are_unique(make_client: MakeClient) -> None:
    client = make_client()
    made = {client.track("u1", "Feature Used", FEATURE) for _ in range(200)}
    assert len(made) == 200
    assert client.flush(timeout=10)
    assert client.store.count() == 200


def test_sync_durability_stores_before_the_call_returns(make_client: MakeClient, db: Path) -> None:
    client = make_client(durability="sync", flush_interval=60)
    with second_store(db) as other:
        for i in range(20):
            message_id = client.track("u1", "Feature Used", FEATURE, message_id=f"s-{i}")
            assert other.get(message_id) is not None, f"s-{i} not durable when track() returned"
        identify = client.identify("u1", TRAITS)
        assert other.get(identify) is not None
        page = client.page(None, "Pricing", anonymous_id="anon-1")
        assert other.get(page) is not None
        assert other.count() == 22


def test_batched_durability_stores_when_flush_returns(make_client: MakeClient, db: Path) -> None:
    client = make_client(flush_interval=60)
    ids = [client.track("u1", "Feature Used", FEATURE) for _ in range(30)]
    assert client.flush(timeout=10) is True
    with second_store(db) as other:
        assert all(other.get(i) is not None for i in ids)


# -- raise mode -------------------------------------------------------------------------------


def test_raise_mode_names_the_event_the_path_and_the_suggestion(make_client: MakeClient) -> None:
    client = make_client(on_violation="raise")
    with pytest.raises(trackwell.PlanViolation) as typo:
        client.track("u1", "Feature Usd", FEATURE)
    text = str(typo.value)
    assert "Feature Usd" in text and "event" in text and "Feature Used" in text
    assert typo.value.violations[0].code == "unplanned_event"
    assert typo.value.violations[0].suggestion == "Feature Used"

    with pytest.raises(PlanViolation) as wrong_type:
        client.track("u1", "Feature Used", {"feature_name": "projects", "usage_count": "many"})
    assert "Feature Used" in str(wrong_type.value)
    assert "properties.usage_count" in str(wrong_type.value)
    assert wrong_type.value.violations[0].path == "properties.usage_count"

    with pytest.raises(PlanViolation) as bad_trait:
        client.identify("u1", {**TRAITS, "plan": "platinum"})
    assert "traits.plan" in str(bad_trait.value)
    client.identify("u1", {"plan": "pro"})  # a partial identify is fine

    with pytest.raises(PlanViolation, match="timestamp"):
        client.track("u1", "Feature Used", FEATURE, timestamp="not a time")

    # A clean call still goes through.
    message_id = client.track("u1", "Feature Used", FEATURE)
    assert client.flush(timeout=10)
    assert client.store.get(message_id) is not None


# -- report mode: bad input never raises and is never lost ------------------------------------


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    when: datetime


class Socketish:
    """Something a careless caller passes along: an open resource with a revealing repr."""

    def __repr__(self) -> str:
        return "<Socketish password=hunter2>"


def _cyclic() -> dict[str, Any]:
    loop: dict[str, Any] = {"feature_name": "projects"}
    loop["self"] = loop
    return loop


def _deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["k"] = {}
        node = node["k"]
    return root


BAD_CALLS: dict[str, Callable[[Client], str]] = {
    "wrong property type": lambda c: c.track("u1", "Feature Used", {"feature_name": 42}),
    "unplanned event": lambda c: c.track("u1", "Feature Usedd", FEATURE),
    "no event name": lambda c: c.track("u1", None, FEATURE),  # type: ignore[arg-type]
    "event name not a string": lambda c: c.track("u1", 42, FEATURE),  # type: ignore[arg-type]
    "no identity at all": lambda c: c.track(None, "Feature Used", FEATURE),
    "placeholder user id": lambda c: c.track("undefined", "Feature Used", FEATURE),
    "numeric user id": lambda c: c.track(42, "Feature Used", FEATURE),  # type: ignore[arg-type]
    "huge payload": lambda c: c.track(
        "u1", "Onboarding Completed", {"steps_completed": 1, "completed_steps": ["x" * 100] * 400}
    ),
    "object()": lambda c: c.track("u1", "Feature Used", {"feature_name": object()}),
    "socket-like object": lambda c: c.track("u1", "Feature Used", {"feature_name": Socketish()}),
    "a set": lambda c: c.track("u1", "Feature Used", {"feature_name": {"a", "b"}}),
    "bytes": lambda c: c.track("u1", "Feature Used", {"feature_name": b"projects"}),
    "nan": lambda c: c.track("u1", "Feature Used", {**FEATURE, "usage_count": float("nan")}),
    "garbage timestamp": lambda c: c.track(
        "u1", "Feature Used", FEATURE, timestamp="yesterday-ish"
    ),
    "timestamp of the wrong type": lambda c: c.track(
        "u1",
        "Feature Used",
        FEATURE,
        timestamp=object(),  # type: ignore[arg-type]
    ),
    "properties not a mapping (list)": lambda c: c.track("u1", "Feature Used", ["projects"]),  # type: ignore[arg-type]
    "properties not a mapping (str)": lambda c: c.track("u1", "Feature Used", "projects"),  # type: ignore[arg-type]
    "traits not a mapping": lambda c: c.identify("u1", [("email", "ada@example.com")]),  # type: ignore[arg-type]
    "context not a mapping": lambda c: c.track("u1", "Feature Used", FEATURE, context="web"),  # type: ignore[arg-type]
    "self-referencing dict": lambda c: c.track("u1", "Feature Used", _cyclic()),
    "integer beyond 64 bits": lambda c: c.track(
        "u1", "Feature Used", {**FEATURE, "usage_count": 2**70}
    ),
    "nested too deep": lambda c: c.track("u1", "Feature Used", FEATURE, context=_deep(12)),
    "non-string keys": lambda c: c.track("u1", "Feature Used", {**FEATURE, 7: "x"}),  # type: ignore[dict-item]
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_report_mode_never_raises_and_keeps_the_message(
    make_client: MakeClient, db: Path, call: Callable[[Client], str]
) -> None:
    errors: list[Exception] = []
    client = make_client(on_error=errors.append)
    message_id = call(client)  # must not raise
    assert isinstance(message_id, str) and message_id
    assert client.flush(timeout=10) is True
    entry = stored(db, message_id)  # accepted, repaired or blocked: never gone
    assert entry.verdict in ("accepted", "repaired", "blocked")
    assert errors == []
    assert client.stats.dropped == 0


def test_a_huge_payload_is_blocked_as_too_large_and_kept_summarised(
    make_client: MakeClient, db: Path
) -> None:
    client = make_client()
    steps = [f"step-{i:05d}-" + "x" * 90 for i in range(400)]  # ~40 KB
    message_id = client.track(
        "u1", "Onboarding Completed", {"steps_completed": 400, "completed_steps": steps}
    )
    assert client.flush(timeout=10)
    entry = stored(db, message_id)
    assert entry.verdict == "blocked" and entry.seq is None
    assert "too_large" in codes(entry)
    summary = entry.message
    assert summary["truncated"] is True
    assert (summary["event"], summary["userId"], summary["messageId"]) == (
        "Onboarding Completed",
        "u1",
        message_id,
    )
    assert "properties" not in summary  # the 40 KB are not kept
    with second_store(db) as store:
        assert store.count() == 0


def test_values_json_cannot_hold_are_serialised_sensibly(make_client: MakeClient, db: Path) -> None:
    plan = make_plan(
        {"Report Exported": good_event(properties={"details": {"type": "object"}})},
        policy={"unplanned_property": "allow"},
    )
    client = make_client(plan=plan)
    with socket.socket() as sock:
        details = {
            "aware": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            "naive": datetime(2024, 1, 2, 3, 4, 5),
            "other zone": datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=1))),
            "day": date(2024, 2, 29),
            "price": Decimal("19.90"),
            "seats": Decimal("3"),
            "id": uuid.UUID(int=1),
            "colour": Colour.RED,
            "point": Point(1, datetime(2024, 1, 1, tzinfo=UTC)),
            "set": {3, 1, 2},
            "tuple": (1, "a"),
            "object": object(),
            "socket": sock,
            "socketish": Socketish(),
            "nested": {"when": datetime(2024, 1, 1, tzinfo=UTC), "amounts": [Decimal("1.5")]},
        }
        message_id = client.track("u1", "Report Exported", {"details": details})
    assert client.flush(timeout=10)
    entry = stored(db, message_id)
    assert entry.verdict == "accepted"
    assert entry.message["properties"]["details"] == {
        "aware": "2024-01-02T03:04:05Z",
        "naive": "2024-01-02T03:04:05Z",
        "other zone": "2024-01-02T04:04:05Z",
        "day": "2024-02-29",
        "price": 19.9,
        "seats": 3,
        "id": "00000000-0000-0000-0000-000000000001",
        "colour": "red",
        "point": {"x": 1, "when": "2024-01-01T00:00:00Z"},
        "set": [1, 2, 3],
        "tuple": [1, "a"],
        "object": "[unserialisable:object]",
        "socket": "[unserialisable:socket]",
        "socketish": "[unserialisable:Socketish]",
        "nested": {"when": "2024-01-01T00:00:00Z", "amounts": [1.5]},
    }
    assert "hunter2" not in str(entry.message)  # never a repr


def test_a_garbage_timestamp_falls_back_to_the_time_of_the_call(
    make_client: MakeClient, db: Path
) -> None:
    client = make_client()
    before = datetime.now(UTC)
    message_id = client.track("u1", "Feature Used", FEATURE, timestamp="2024-13-45T99:00")
    assert client.flush(timeout=10)
    entry = stored(db, message_id)
    assert entry.verdict == "accepted"
    when = datetime.fromisoformat(entry.message["timestamp"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= when <= datetime.now(UTC)


# -- identify -----------------------------------------------------------------------------------


def test_identify_stamps_last_seen_at_and_makes_timestamps_unix_seconds(
    make_client: MakeClient, db: Path
) -> None:
    client = make_client()
    acted = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    stamped = client.identify(
        "u1",
        {"email": "ada@example.com", "created_at": datetime(2024, 1, 1, tzinfo=UTC)},
        timestamp=acted,
    )
    kept = client.identify(
        "u2",
        {
            "email": "bob@example.com",
            "created_at": datetime(2024, 1, 1),  # naive: taken as UTC
            "last_seen_at": 1_700_000_000,
        },
    )
    assert client.flush(timeout=10)

    traits = stored(db, stamped).message["traits"]
    assert traits["created_at"] == 1_704_067_200
    assert traits["last_seen_at"] == int(acted.timestamp())
    assert stored(db, stamped).verdict == "accepted"
    other = stored(db, kept).message["traits"]
    assert other["created_at"] == 1_704_067_200
    assert other["last_seen_at"] == 1_700_000_000  # the caller's value wins
    with second_store(db) as store:
        profile = store.profile("u1")
        assert profile is not None and profile.traits["last_seen_at"] == int(acted.timestamp())


def test_identify_does_not_invent_last_seen_at_when_the_plan_lacks_it(
    make_client: MakeClient, db: Path
) -> None:
    client = make_client(plan=make_plan())
    message_id = client.identify("u1", {"email": "ada@example.com"})
    assert client.flush(timeout=10)
    assert "last_seen_at" not in stored(db, message_id).message["traits"]


# -- concurrency and a full queue ---------------------------------------------------------------


def test_many_threads_store_every_message_once(make_client: MakeClient, db: Path) -> None:
    client = make_client()
    threads_count, per_thread = 8, 2000
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(per_thread):
                client.track(f"user-{worker}", "Feature Used", FEATURE, message_id=f"t{worker}-{i}")
        except BaseException as exc:  # reported below; a thread's exception is otherwise lost
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert client.flush(timeout=30) is True

    with second_store(db) as store:
        assert store.count() == threads_count * per_thread
        found = positions(store, [f"user-{w}" for w in range(threads_count)])
    assert len(found) == threads_count * per_thread
    for worker in range(threads_count):
        order = [found[f"t{worker}-{i}"] for i in range(per_thread)]
        assert order == sorted(order)  # each thread's order is kept
    assert client.stats.dropped == 0


def test_a_full_queue_spills_to_disk_and_loses_nothing(make_client: MakeClient, db: Path) -> None:
    client = make_client(max_queue_size=50)
    users, burst = 10, 5000
    for i in range(burst):
        client.track(f"user-{i % users}", "Feature Used", FEATURE, message_id=f"b-{i}")
    assert client.stats.spilled > 0
    assert client.stats.dropped == 0
    assert client.flush(timeout=30) is True

    with second_store(db) as store:
        assert store.count() == burst
        found = positions(store, [f"user-{u}" for u in range(users)])
    assert len(found) == burst
    for user in range(users):
        order = [found[f"b-{i}"] for i in range(user, burst, users)]
        assert order == sorted(order), f"user-{user}'s messages are out of order"
    client.close(timeout=10)
    assert spill_files(db) == []  # drained and removed


def test_spilled_messages_of_every_shape_are_kept(make_client: MakeClient, db: Path) -> None:
    """What the queue would have stored must survive the trip through the spill file too."""
    client = make_client(max_queue_size=1, flush_interval=60)
    for i in range(20):
        client.track("u1", "Feature Used", FEATURE, message_id=f"filler-{i}")
    odd = {
        "a 300-character user id": client.track("u" * 300, "Feature Used", FEATURE),
        "blocked: no event name": client.track("u1", None, FEATURE),  # type: ignore[arg-type]
        "context nested 12 deep": client.track("u1", "Feature Used", FEATURE, context=_deep(12)),
        "a 300-character context key": client.track(
            "u1", "Feature Used", FEATURE, context={"k" * 300: 1}
        ),
    }
    assert client.stats.spilled > len(odd)
    assert client.flush(timeout=5) is True
    with second_store(db) as store:
        lost = [name for name, message_id in odd.items() if store.get(message_id) is None]
    assert lost == []


# -- a locked or read-only database ---------------------------------------------------------------


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> int:
    """Make the store give up on a lock after 200 ms instead of 5 s (set before it opens)."""
    monkeypatch.setattr("trackwell.store.sqlite.connection.BUSY_TIMEOUT_MS", 200)
    return 200


@contextmanager
def exclusive_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the write lock until the block ends."""
    locker = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        yield locker
        locker.execute("ROLLBACK")
    finally:
        locker.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_locked_database_reports_and_then_writes_everything(
    make_client: MakeClient, db: Path, short_busy_timeout: int
) -> None:
    errors: list[Exception] = []
    client = make_client(on_error=errors.append, flush_interval=0.05)
    client.track("u1", "Feature Used", FEATURE, message_id="before")
    assert client.flush(timeout=10)

    with exclusive_lock(db):
        started = time.monotonic()
        for i in range(300):
            client.track("u1", "Feature Used", FEATURE, message_id=f"locked-{i}")
        assert time.monotonic() - started < 2.0  # the caller never waits for the lock
        assert client.flush(timeout=0.3) is False  # not durable yet, and it says so
        assert wait_until(lambda: bool(errors), timeout=5)

    assert client.flush(timeout=15) is True
    assert all(isinstance(e, StoreError) for e in errors)
    assert any("locked" in str(e) for e in errors)
    assert client.stats.write_errors >= 1
    with second_store(db) as store:
        assert store.count() == 301
        found = positions(store, ["u1"])
    assert set(found) == {"before"} | {f"locked-{i}" for i in range(300)}


def test_sync_durability_waits_out_a_short_lock(
    make_client: MakeClient, db: Path, short_busy_timeout: int
) -> None:
    client = make_client(durability="sync")
    client.track("u1", "Feature Used", FEATURE)
    locker = sqlite3.connect(db, isolation_level=None, timeout=10, check_same_thread=False)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        timer = threading.Timer(0.8, locker.execute, args=("ROLLBACK",))
        timer.start()
        started = time.monotonic()
        message_id = client.track("u1", "Feature Used", FEATURE)
        waited = time.monotonic() - started
        timer.join()
    finally:
        locker.close()
    assert waited >= 0.5  # it did wait for the commit...
    assert stored(db, message_id).verdict == "accepted"  # ...and the commit happened


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders read-only, even for root (who ignores modes: the immutable flag)."""
    modes = {path: path.stat().st_mode for path in paths}
    immutable: list[Path] = []
    chattr = shutil.which("chattr")
    try:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        if os.geteuid() == 0 and chattr is not None:
            for path in paths:
                if subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode == 0:
                    immutable.append(path)
        if _writable(paths[0]):
            pytest.skip("cannot make a file read-only on this system")
        yield
    finally:
        for path in immutable:
            subprocess.run([chattr or "chattr", "-i", str(path)], capture_output=True)
        for path, mode in modes.items():
            path.chmod(mode)


def _writable(path: Path) -> bool:
    try:
        if path.is_dir():
            probe = path / ".write-probe"
            probe.touch()
            probe.unlink()
        else:
            with path.open("ab"):
                pass
    except OSError:
        return False
    return True


def _make_store(db: Path, example_plan: Plan) -> None:
    client = Client(example_plan, f"sqlite:///{db}")
    client.track("u1", "Feature Used", FEATURE, message_id="existing")
    assert client.close(timeout=10)
    client.store.close()


def test_a_read_only_folder_and_file_fail_clearly_at_open(
    example_plan: Plan, db: Path, make_client: MakeClient
) -> None:
    _make_store(db, example_plan)
    with read_only(db, db.parent), pytest.raises(StoreError) as failure:
        make_client()
    assert str(db) in str(failure.value)


def test_a_read_only_file_is_reported_and_nothing_is_acknowledged(
    example_plan: Plan, db: Path, make_client: MakeClient
) -> None:
    _make_store(db, example_plan)
    errors: list[Exception] = []
    with read_only(db):
        try:
            client = make_client(on_error=errors.append, flush_interval=0.05)
        except StoreError as exc:  # refusing to open is a clear answer too
            assert str(db) in str(exc)
            return
        message_id = client.track("u1", "Feature Used", FEATURE)  # never raises
        assert client.flush(timeout=1.0) is False  # never acknowledged
        assert wait_until(lambda: bool(errors), timeout=5)
        assert client.close(timeout=0.2) is False  # nor at close
    assert any(isinstance(e, StoreError) and "read-only" in str(e) for e in errors)
    assert client.stats.written == 0
    with second_store(db) as store:
        assert store.get(message_id) is None


def test_a_read_only_file_made_writable_again_gets_every_message(
    example_plan: Plan, db: Path, make_client: MakeClient
) -> None:
    _make_store(db, example_plan)
    errors: list[Exception] = []
    with read_only(db):
        client = make_client(on_error=errors.append, flush_interval=0.05)
        message_ids = [client.track("u1", "Feature Used", FEATURE) for _ in range(5)]
        assert wait_until(lambda: bool(errors), timeout=5)
    # The operator fixed the permissions: what the caller handed over must now be written.
    assert client.flush(timeout=6) is True
    with second_store(db) as store:
        assert [store.get(i) is not None for i in message_ids] == [True] * 5


def test_a_card_as_an_event_name_is_neither_raised_nor_logged_nor_stored(
    make_client: MakeClient, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    card = "4111 1111 1111 1111"
    with pytest.raises(PlanViolation) as raised:
        make_client(on_violation="raise").track("u1", f"paid {card}", FEATURE)
    assert "1111" not in str(raised.value) and "[redacted:card_number]" in str(raised.value)
    caplog.set_level(logging.DEBUG, logger="trackwell")
    client = make_client()
    message_id = client.track("u1", f"paid {card}", FEATURE)
    assert client.flush(timeout=10) is True
    assert stored(db, message_id).verdict == "blocked"
    assert "1111" not in caplog.text
    client.close(timeout=5)
    kept = b"".join(p.read_bytes() for p in db.parent.glob(f"{db.name}*") if p.is_file())
    assert kept and card.encode() not in kept and b"4111111111111111" not in kept
