"""Shared pieces of the reliability suite: messages with a per-person sequence, the ledger that
checks a run (stored once, delivered once, in order per person), timed fakes and processes."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.conftest import EXAMPLE_PLAN, ROOT
from tests.fakes.server import Received, Reply
from tests.fakes.webhook import FakeWebhook
from tests.server.conftest import QUICK_KEY, SOURCES, Served, free_port, start_gateway
from trackwell.server import timeouts
from trackwell.server.app import create_app
from trackwell.server.run import Listen, bind
from trackwell.server.run import _options as run_options
from trackwell.server.settings import GatewaySettings
from trackwell.store.sqlite import SQLiteStore

__all__ = ["QUICK_KEY", "Served", "free_port", "start_gateway"]

HOOK_SECRET = "reliability-hook-secret"
EPOCH_2026 = "2026-01-05T10:00:00Z"


# -- messages -------------------------------------------------------------------------------


def message_id(run: str, person: str, n: int) -> str:
    """Ids that carry the person and their sequence number, so any copy can be placed."""
    return f"{run}:{person}:{n}"


def sequence_of(mid: str) -> tuple[str, int]:
    """(person, n) from an id made by `message_id`."""
    _, person, n = mid.rsplit(":", 2)
    return person, int(n)


def track(run: str, person: str, n: int) -> dict[str, Any]:
    """A planned, valid track call; `usage_count` is the sequence number + 1 (the plan's minimum)."""
    return {
        "type": "track",
        "userId": person,
        "event": "Feature Used",
        "properties": {"feature_name": "projects", "usage_count": n + 1},
        "messageId": message_id(run, person, n),
    }


def identify(run: str, person: str, n: int) -> dict[str, Any]:
    """A valid identify (the plan requires email and created_at)."""
    return {
        "type": "identify",
        "userId": person,
        "traits": {"email": f"{person}@example.com", "created_at": 1767600000},
        "messageId": message_id(run, person, n),
    }


class Sequencer:
    """Next message for each person: an identify first, then tracks (every 10th an identify)."""

    def __init__(self, run: str, people: Sequence[str]) -> None:
        self.run = run
        self.people = list(people)
        self._next: dict[str, int] = dict.fromkeys(self.people, 0)
        self._turn = 0

    def batch(self, size: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(size):
            person = self.people[self._turn % len(self.people)]
            self._turn += 1
            n = self._next[person]
            self._next[person] = n + 1
            out.append(identify(self.run, person, n) if n % 10 == 0 else track(self.run, person, n))
        return out


# -- the ledger -----------------------------------------------------------------------------


@dataclass
class Ledger:
    """What was acknowledged; checks the store and a destination against it."""

    acked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ids: Iterable[str]) -> None:
        with self.lock:
            self.acked.update(ids)

    def snapshot(self) -> set[str]:
        with self.lock:
            return set(self.acked)

    def check_stored(self, db: Path, *, exactly: bool = True) -> None:
        """Every acknowledged id is in the log exactly once (and, `exactly`, nothing else is)."""
        counts = log_counts(db)
        acked = self.snapshot()
        missing = sorted(acked - set(counts))
        assert missing == [], f"{len(missing)} acknowledged messages are not stored: {missing[:5]}"
        twice = sorted(mid for mid, count in counts.items() if count > 1)
        assert twice == [], f"{len(twice)} messages are stored twice: {twice[:5]}"
        if exactly:
            extra = sorted(set(counts) - acked)
            assert extra == [], f"{len(extra)} stored messages were never acknowledged: {extra[:5]}"

    def check_delivered(
        self, first_arrivals: Sequence[str], *, dead: Iterable[str] = (), exactly: bool = True
    ) -> None:
        """`first_arrivals`: ids as a tool keeps them (de-duplicated by id, in arrival order).

        Every acknowledged id arrived (or is dead, refused by the tool), none arrived that was
        not acknowledged, and each person's messages first arrived in the order they were sent."""
        acked = self.snapshot()
        arrived = set(first_arrivals)
        assert len(arrived) == len(first_arrivals), "the tool kept an id twice"
        missing = sorted(acked - arrived - set(dead))
        assert missing == [], f"{len(missing)} acknowledged messages never delivered: {missing[:5]}"
        if exactly:
            extra = sorted(arrived - acked)
            assert extra == [], f"{len(extra)} delivered messages were never acknowledged"
        assert_in_order(first_arrivals)


def assert_in_order(ids: Iterable[str]) -> None:
    """Each person's sequence numbers appear in increasing order."""
    seen: dict[str, list[int]] = defaultdict(list)
    for mid in ids:
        person, n = sequence_of(mid)
        seen[person].append(n)
    for person, numbers in seen.items():
        assert numbers == sorted(numbers), f"{person} out of order: {numbers[:30]}"


def log_counts(db: Path) -> dict[str, int]:
    """messageId -> rows in the log of a SQLite store (read-only, beside a running writer)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT message_id, count(*) FROM log GROUP BY message_id").fetchall()
    finally:
        conn.close()
    return {str(mid): int(count) for mid, count in rows}


def wait_until(predicate: Any, timeout: float, every: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# -- fakes ----------------------------------------------------------------------------------


class TimedWebhook(FakeWebhook):
    """The webhook fake, noting when each id first arrived; optionally slow, like a busy tool."""

    def __init__(self, *, delay: float = 0.0) -> None:
        super().__init__(secret=HOOK_SECRET)
        self.delay = delay
        self.arrived: dict[str, float] = {}
        self.in_flight = threading.Event()
        self.requests_seen = 0

    def handle(self, request: Received) -> Reply:
        self.in_flight.set()
        try:
            if self.delay:
                self._stopping.wait(self.delay)
            before = len(self.messages)
            reply = super().handle(request)
            now = time.monotonic()
            for message in self.messages[before:]:
                self.arrived[str(message["messageId"])] = now
            self.requests_seen += 1
            return reply
        finally:
            self.in_flight.clear()

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["messageId"]) for m in self.messages]


def hook_config(folder: Path, *, batch_size: int = 50, timeout: float = 5.0) -> None:
    """A trackwell.toml with one webhook destination called `hook`."""
    (folder / "trackwell.toml").write_text(
        f'[destinations.hook]\ntype = "webhook"\nbatch_size = {batch_size}\ntimeout = {timeout}\n'
    )


def hook_env(hook: FakeWebhook, **extra: str) -> dict[str, str]:
    """Environment for a process that delivers to `hook` (secrets only from here)."""
    return {
        "TRACKWELL_HOOK_URL": f"{hook.url}{hook.path}",
        "TRACKWELL_HOOK_SECRET": HOOK_SECRET,
        "TRACKWELL_PLAN": str(EXAMPLE_PLAN),
        **extra,
    }


# -- processes ------------------------------------------------------------------------------


class Router:
    """A `trackwell route` process with its output in a file."""

    def __init__(self, folder: Path, store: str, env: Mapping[str, str], name: str) -> None:
        self.log = folder / f"{name}.log"
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trackwell", "route", "--store", store],
            cwd=folder,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT / "src")},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def lease_owner(db: Path, destination: str) -> tuple[int | None, int]:
    """(pid of the process holding a destination's queue or None, lease end in ms)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(
            "SELECT owner, lease_ms FROM destinations WHERE name = ?", (destination,)
        ).fetchone()
    finally:
        conn.close()
    if row is None or row[0] is None:
        return None, 0
    return int(str(row[0]).split(":")[1]), int(row[1])


class Sender(threading.Thread):
    """A client that sends batches one after another and retries an unanswered batch, with the
    same ids, until it is acknowledged (following the gateway to its new URL after a restart)."""

    def __init__(
        self,
        url: list[str],
        sequencer: Sequencer,
        ledger: Ledger,
        *,
        size: int = 40,
        key: str = QUICK_KEY,
    ) -> None:
        super().__init__(daemon=True)
        self.url = url  # url[0] is the current gateway
        self.sequencer = sequencer
        self.ledger = ledger
        self.size = size
        self.key = key
        self.stop = threading.Event()
        self.retries = 0
        self.duplicates = 0
        self.batches = 0
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(auth=(self.key, ""), timeout=10) as client:
            while not self.stop.is_set():
                batch = self.sequencer.batch(self.size)
                self._deliver(client, batch)

    def _deliver(self, client: httpx.Client, batch: list[dict[str, Any]]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = client.post(f"{self.url[0]}/v1/batch", json={"batch": batch})
            except httpx.HTTPError:
                self.retries += 1
                time.sleep(0.05)
                continue
            if response.status_code == 200:
                body = response.json()
                if body["accepted"] + body["repaired"] != len(batch):
                    self.errors.append(f"not all accepted: {body}")
                self.duplicates += body["duplicates"]
                self.ledger.add(m["messageId"] for m in batch)
                self.batches += 1
                return
            if response.status_code in (429, 503):
                self.retries += 1
                time.sleep(0.05)
                continue
            self.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
            return
        self.errors.append("a batch was never acknowledged within 60 s")


# -- a gateway in this process ------------------------------------------------------------------


@contextlib.contextmanager
def in_process_gateway(
    tmp_path: Path, deadline: float | None = None, **options: Any
) -> Iterator[tuple[str, SQLiteStore]]:
    """The gateway on uvicorn in a thread of this process (real sockets, real HTTP), with the
    test sources; `deadline` shortens the head and body timeouts."""
    store = SQLiteStore(str(tmp_path / "inproc.db"))
    if deadline:
        options["body_timeout"] = deadline
    settings = GatewaySettings(
        plan=options.pop("plan", EXAMPLE_PLAN),
        store=store,
        sources=options.pop("sources", SOURCES),
        plan_watch_seconds=None,
        access_log=options.pop("access_log", False),
        **options,
    )
    listen = Listen("127.0.0.1", free_port(), log_level="warning")
    uvicorn_options = {**run_options(listen)}
    if deadline:
        uvicorn_options["http"] = timeouts.protocol(deadline)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), **uvicorn_options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [bind(listen)]}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, 10), "the gateway did not start"
        yield listen.url, store
    finally:
        server.should_exit = True
        thread.join(15)
        store.close()
