"""Erase, suppress and unsuppress through the store, the router and fake tools over loopback:
a receipt for every destination, queued deliveries cancelled, and no way back for an erased
person through a replay, a late client retry, or a router that was down or mid-batch."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.backends import any_store, postgres_database
from tests.privacy.people import (
    ADA,
    ADA_ANON,
    ADA_EMAIL,
    BOB,
    PLAN,
    ada_messages,
    bob_messages,
    leftovers,
    seed,
    track,
)
from tests.privacy.tools import PrivacyTool, hook
from trackwell.core.messages import WireMessage
from trackwell.core.outcomes import Outcome
from trackwell.core.privacy import PrivacyJob
from trackwell.destinations.base import Destination, Outgoing, Prepared
from trackwell.destinations.http import HttpRequest
from trackwell.destinations.registry import from_settings
from trackwell.pipeline import accept
from trackwell.pipeline.privacy import PrivacyService, PrivacyWorker
from trackwell.pipeline.router import WITHHELD, Router
from trackwell.store import Delivery, Store, open_store
from trackwell.store.sqlite import SQLiteStore

__all__ = ["any_store", "postgres_database"]


class NoPrivacyApi(Destination):
    """A tool without any privacy call: deliveries always succeed, privacy is not supported."""

    kind = "memory"

    def __init__(self, name: str) -> None:
        super().__init__(name, transport=None)

    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        return Prepared(
            [Outgoing(HttpRequest("POST", "memory://", {}), tuple(range(len(messages))))]
        )

    def deliver(self, messages: Sequence[WireMessage]) -> list[Outcome]:
        return [Outcome("delivered")] * len(messages)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The store's own folder: every file in it is searched for the erased person."""
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def store(folder: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{folder / 'trackwell.db'}")
    yield opened
    opened.close()


@pytest.fixture
def tool() -> Iterator[PrivacyTool]:
    with PrivacyTool() as running:
        yield running


def drain(router: Router) -> None:
    for name in router.destinations:
        router.drain(name)


def test_an_erase_leaves_nothing_and_a_receipt_for_every_destination(
    store: Store, folder: Path, tool: PrivacyTool
) -> None:
    capture = from_settings("dev", {"type": "webhook", "url": tool.url, "mode": "capture"}, {})
    destinations = [hook("hook", tool), capture, NoPrivacyApi("plain")]
    router = Router(store, destinations)
    seed(store, ada_messages(), bob_messages())
    drain(router)
    assert {"a-1", "a-2", "a-3", "a-4", "b-1", "b-2"} <= tool.delivered_ids()

    service = PrivacyService(store, list(router.destinations))
    request = service.request("erase", ADA_EMAIL, actor="test")  # named by the email alone
    assert request.status == "pending" and request.identifiers == 3
    assert sum(request.erased.values()) > 0
    drain(router)  # the router's workers carry the jobs

    done = service.status(request.id)
    assert done is not None
    receipts = {r.destination: r.status for r in done.receipts}
    assert receipts == {"hook": "done", "dev": "captured", "plain": "not_supported"}
    assert done.status == "done" and done.finished_ms is not None
    [sent] = tool.privacy_requests
    assert (sent["action"], sent["requestId"]) == ("erase", request.id)
    assert (sent["userIds"], sent["anonymousIds"], sent["emails"]) == (
        [ADA],
        [ADA_ANON],
        [ADA_EMAIL],
    )
    assert leftovers(folder) == {}
    assert store.timeline(ADA).entries == () and store.timeline(ADA_ANON).entries == ()
    assert len(store.timeline(BOB).entries) == 2  # everyone else is left alone
    assert [r.id for r in service.requests()] == [request.id]


def test_propagation_is_retried_like_a_delivery_then_fails_with_the_tools_answer(
    store: Store, tool: PrivacyTool
) -> None:
    from trackwell.pipeline.retry import RetryPolicy

    seed(store, ada_messages())
    service = PrivacyService(store, ["hook"])
    request = service.request("erase", ADA, actor="test")
    clock = [time.time()]
    worker = PrivacyWorker(
        store,
        [hook("hook", tool)],
        policy=RetryPolicy(max_attempts=3, backoff_base=1.0, backoff_cap=2.0),
        clock=lambda: clock[0],
    )
    tool.fail_next(1, status=503)
    assert worker.run_once("hook") == 1
    pending = service.status(request.id)
    assert pending is not None and pending.status == "pending"
    assert pending.receipts[0].attempts == 1 and "503" in (pending.receipts[0].detail or "")
    assert worker.run_once("hook") == 0  # backing off: not due yet
    clock[0] += 5
    tool.fail_next(2, status=500, body={"error": "the tool is down"})
    worker.run_once("hook")
    clock[0] += 5
    worker.run_once("hook")
    failed = service.status(request.id)
    assert failed is not None and failed.status == "failed"
    [receipt] = failed.receipts
    assert (receipt.status, receipt.attempts) == ("failed", 3)
    assert receipt.detail is not None and "gave up after 3 attempts" in receipt.detail
    assert "500" in receipt.detail and tool.privacy_requests == []


def test_erasing_cancels_the_persons_queued_deliveries(
    store: Store, folder: Path, tool: PrivacyTool
) -> None:
    clock = [time.time()]
    router = Router(store, [hook("hook", tool)], clock=lambda: clock[0])
    seed(store, [ada_messages()[2]])
    tool.fail_next(1, status=503)
    router.drain("hook")  # Ada's first message: retrying
    seed(store, [ada_messages()[3]], bob_messages())
    router.drain("hook")  # her second waits behind it; Bob's go
    [stats] = store.delivery_stats(int(clock[0] * 1000))
    assert (stats.retry, stats.waiting) == (1, 1)
    assert tool.delivered_ids() == {"b-1", "b-2"}

    before = len(tool.requests)
    PrivacyService(store, ["hook"]).request("erase", ADA, actor="test")
    clock[0] += 3600  # long past any backoff
    drain(router)
    [stats] = store.delivery_stats(int(clock[0] * 1000))
    assert (stats.retry, stats.waiting, stats.pending) == (0, 0, 0)
    assert tool.delivered_ids() == {"b-1", "b-2"}
    assert ADA not in tool.sent_text(since=before)
    assert leftovers(folder) == {}


def test_a_router_down_during_the_erase_delivers_nothing_of_theirs(
    store: Store, folder: Path, tool: PrivacyTool
) -> None:
    Router(store, [hook("hook", tool)])  # registers the queue, never runs
    seed(store, ada_messages(), bob_messages())
    PrivacyService(store, ["hook"]).request("erase", ADA_ANON, actor="test")

    router = Router(store, [hook("hook", tool)], poll_interval=0.05)
    router.start()
    try:
        deadline = time.monotonic() + 20
        while tool.delivered_ids() != {"b-1", "b-2"} or tool.privacy_requests == []:
            assert time.monotonic() < deadline, (tool.delivered_ids(), tool.privacy_requests)
            time.sleep(0.05)
    finally:
        router.close()
    assert ADA not in tool.sent_text() and ADA_EMAIL not in tool.sent_text()
    assert leftovers(folder) == {}


class ErasedAfterClaim(SQLiteStore):
    """A store where a privacy request lands right after the router claims a batch."""

    request: tuple[str, str] | None = None

    def claim(self, destination: str, limit: int, now_ms: int) -> list[Delivery]:
        claimed = super().claim(destination, limit, now_ms)
        if claimed and self.request is not None:
            kind, person = self.request
            self.request = None
            PrivacyService(self, [destination]).request(kind, person, actor="test")  # type: ignore[arg-type]
        return claimed


def test_a_batch_claimed_before_the_erase_is_screened(folder: Path, tool: PrivacyTool) -> None:
    path = folder / "trackwell.db"
    store = ErasedAfterClaim(str(path), url=f"sqlite:///{path}")
    try:
        router = Router(store, [hook("hook", tool)])
        seed(store, bob_messages(), ada_messages())
        store.request = ("erase", ADA)
        router.drain("hook")
        assert tool.delivered_ids() == {"b-1", "b-2"}
        # The first batch held Bob's messages and Ada's up to her identify (her later ones wait
        # for the next batch, and by then they are erased): those two of hers were withheld.
        assert router.counters["hook"].withheld == 2
        assert router.counters["hook"].delivered == 2
        assert ADA not in tool.sent_text() and ADA_ANON not in tool.sent_text()
        [stats] = store.delivery_stats(int(time.time() * 1000))
        assert stats.pending == 0
    finally:
        store.close()
    assert leftovers(folder) == {}


def test_a_suppressed_persons_claimed_batch_is_withheld_not_delivered(
    folder: Path, tool: PrivacyTool
) -> None:
    path = folder / "trackwell.db"
    store = ErasedAfterClaim(str(path), url=f"sqlite:///{path}")
    try:
        router = Router(store, [hook("hook", tool)])
        seed(store, ada_messages())
        store.request = ("suppress", ADA)
        router.drain("hook")
        assert tool.delivered_ids() == set()
        entry = store.get("a-3")
        assert entry is not None  # suppression keeps what is stored
        assert entry.deliveries["hook"]["status"] == "dead"
        assert entry.deliveries["hook"]["error"] == WITHHELD["suppressed"]
        [stats] = store.delivery_stats(int(time.time() * 1000))
        assert stats.delivered == 0 and router.counters["hook"].withheld == 4
    finally:
        store.close()


def test_a_replay_after_the_erase_sends_nothing_of_theirs(
    store: Store, folder: Path, tool: PrivacyTool
) -> None:
    router = Router(store, [hook("hook", tool)])
    seed(store, ada_messages(), bob_messages())
    tool.fail_next(2, status=400, body={"error": "refused"})  # both batches
    router.drain("hook")
    [stats] = store.delivery_stats(int(time.time() * 1000))
    assert stats.dead == 6 and tool.delivered_ids() == set()

    PrivacyService(store, ["hook"]).request("erase", ADA, actor="test")
    now = int(time.time() * 1000)
    assert store.requeue("hook", dead_only=True, now_ms=now) == 2  # Bob's dead letters only
    assert store.requeue("hook", message_id="a-3", now_ms=now) == 0
    assert store.requeue("hook", since_ms=0, now_ms=now) == 2
    router.drain("hook")
    assert tool.delivered_ids() == {"b-1", "b-2"}
    assert leftovers(folder) == {}


def test_a_late_client_retry_of_an_erased_person_is_dropped(any_store: Store) -> None:
    store = any_store
    seed(store, ada_messages(), bob_messages())
    request = PrivacyService(store, []).request("erase", ADA, actor="test")
    assert request.receipts == () and request.status == "done"
    count = store.count()

    # The same messageIds again (a client that never saw its answer), and new ones under
    # each identifier alone.
    again = accept(store, PLAN, ada_messages())
    fresh = accept(
        store,
        PLAN,
        [
            track("n-1", ADA),
            track("n-2", None, anonymous=ADA_ANON),
            {**track("n-3", "someone-new"), "context": {"traits": {"email": ADA_EMAIL.upper()}}},
        ],
    )
    assert [r.dropped for r in again + fresh] == ["erased"] * 7
    assert all(r.seq is None for r in again + fresh)
    assert store.count() == count
    assert store.timeline(ADA).entries == () and store.timeline(ADA_ANON).entries == ()


def test_suppress_drops_new_messages_until_unsuppressed(any_store: Store) -> None:
    store = any_store
    seed(store, ada_messages())
    service = PrivacyService(store, [])
    service.request("suppress", ADA, actor="test")
    kept = len(store.timeline(ADA).entries)
    assert kept == 4  # the profile and history stay

    dropped = accept(store, PLAN, [track("s-1", ADA), track("s-2", None, anonymous=ADA_ANON)])
    assert [r.dropped for r in dropped] == ["suppressed", "suppressed"]
    assert len(store.timeline(ADA).entries) == kept

    service.request("unsuppress", ADA, actor="test")
    taken = accept(store, PLAN, [track("s-3", ADA)])
    assert taken[0].dropped is None and taken[0].seq is not None
    assert len(store.timeline(ADA).entries) == kept + 1
    # An erase mark outlives any unsuppress.
    service.request("erase", ADA, actor="test")
    service.request("unsuppress", ADA, actor="test")
    assert accept(store, PLAN, [track("s-4", ADA)])[0].dropped == "erased"


class CountingJobs(SQLiteStore):
    """A store that counts how often privacy jobs are claimed (each claim is a write lock)."""

    claims = 0

    def claim_privacy_jobs(
        self, destination: str, now_ms: int, limit: int = 10
    ) -> list[PrivacyJob]:
        self.claims += 1
        return super().claim_privacy_jobs(destination, now_ms, limit)


def test_an_idle_router_looks_for_privacy_jobs_once_a_second_and_carries_new_ones(
    folder: Path, tool: PrivacyTool
) -> None:
    path = folder / "trackwell.db"
    store = CountingJobs(str(path), url=f"sqlite:///{path}")
    router = Router(store, [hook("hook", tool)], poll_interval=0.01)
    try:
        router.start()
        time.sleep(0.5)
        assert 1 <= store.claims <= 2  # not at each of the ~50 polls
        request = PrivacyService(store, ["hook"]).request("suppress", ADA, actor="test")
        deadline = time.monotonic() + 5
        while (found := store.privacy_request(request.id)) is None or found.status == "pending":
            assert time.monotonic() < deadline, "the running router never carried the request"
            time.sleep(0.05)
        assert found.status == "done" and [r["action"] for r in tool.privacy_requests] == [
            "suppress"
        ]
    finally:
        router.close()
        store.close()


def test_a_late_sdk_retry_of_an_erased_person_is_not_stored(folder: Path) -> None:
    import trackwell
    from tests.conftest import EXAMPLE_PLAN

    url = f"sqlite:///{folder / 'trackwell.db'}"
    client = trackwell.Client(EXAMPLE_PLAN, url)
    try:
        client.track(ADA, "Feature Used", {"feature_name": "projects"}, message_id="k-1")
        client.track(BOB, "Feature Used", {"feature_name": "projects"}, message_id="k-2")
        assert client.flush(10)
        PrivacyService(client.store, []).request("erase", ADA, actor="test")
        # The same message again (a retry after a lost answer), and a new one.
        client.track(ADA, "Feature Used", {"feature_name": "projects"}, message_id="k-1")
        client.track(ADA, "Feature Used", {"feature_name": "projects"}, message_id="k-3")
        assert client.flush(10)
        assert client.store.timeline(ADA).entries == ()
        assert client.store.get("k-1") is None and client.store.get("k-3") is None
        assert client.store.get("k-2") is not None
    finally:
        client.close()
        client.store.close()
    assert leftovers(folder) == {}
