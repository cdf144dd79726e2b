"""Real processes killed with SIGKILL, spill files left behind, and fork: nothing acknowledged is lost.

Each test runs the SDK in a child Python process (a script written to tmp_path), kills or forks
it, and then looks at the store from this process, as an operator would after a crash.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PLAN
from trackwell.store import DeliveryResult, Store, open_store

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

HOOK = "hook"
LATER_MS = 10 * 60_000  # claims this far ahead: any lease of a dead process has run out
USERS = [f"user-{n}" for n in range(5)]

# Tracks e-START, e-START+1, ... forever. "batched": flush() after every CHUNK and print the
# last id flushed; "sync": print every id as soon as track() returns. It also claims from the
# destination's queue (never acking), like a router that dies holding claims and the lease.
TRACKER = """
import sys, time
import trackwell
from trackwell.store import open_store

plan, url, start, mode, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
client = trackwell.Client(plan, url, durability=mode)
router = open_store(url)
i = start
while True:
    for _ in range(chunk):
        message_id = f"e-{i}"
        client.track(f"user-{i % 5}", "Feature Used", {"feature_name": "projects"}, message_id=message_id)
        i += 1
        if mode == "sync":
            print("stored", message_id, flush=True)
    if mode == "batched":
        if not client.flush(30):
            sys.exit("flush timed out")
        print("stored", f"e-{i - 1}", flush=True)
    router.claim("hook", 200, int(time.time() * 1000))
"""

# Opens a client with a tiny queue, tracks "ready" and flushes, then on "go" (optionally in a
# forked child) tracks a burst that must spill, says so, and waits to be killed.
SPILLER = """
import os, sys, time
import trackwell

plan, url, burst, fork = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "fork"
client = trackwell.Client(plan, url, max_queue_size=50)
client.track("user-0", "Feature Used", {"feature_name": "projects"}, message_id="ready")
assert client.flush(10)
print("ready", flush=True)
sys.stdin.readline()
if fork and os.fork() != 0:
    time.sleep(600)  # the parent waits to be killed; its forked child does the work
for i in range(burst):
    client.track(f"user-{i % 5}", "Feature Used", {"feature_name": "projects"}, message_id=f"s-{i}")
print("spilled", os.getpid(), client.stats.spilled, flush=True)
parent = os.getppid()
while os.getppid() == parent:  # wait to be killed; a forked worker orphaned by a failure leaves
    time.sleep(0.05)
os._exit(1)
"""

# A new process: a Client on the same store replays what a dead one left in its spill file.
REPLAYER = """
import sys
import trackwell

client = trackwell.Client(sys.argv[1], sys.argv[2])
flushed = client.flush(20)
closed = client.close(20)
client.store.close()
print("flushed", flushed, closed, flush=True)
"""

# A parent Client tracks, forks; both sides track and flush their own events.
FORKER = """
import os, sys
import trackwell

plan, url = sys.argv[1], sys.argv[2]
client = trackwell.Client(plan, url, flush_interval=60)

def track(user, prefix, numbers):
    for i in numbers:
        client.track(user, "Feature Used", {"feature_name": "projects"}, message_id=f"{prefix}-{i}")

track("parent", "p", range(100))
assert client.flush(10)
track("parent", "p", range(100, 200))  # still queued in the parent when it forks
pid = os.fork()
if pid == 0:
    track("child", "c", range(100))
    os._exit(0 if client.flush(10) else 3)
track("parent", "p", range(200, 300))
flushed = client.flush(10)
_, status = os.waitpid(pid, 0)
client.close()
client.store.close()
print("parent-flushed", flushed, "child-exit", os.waitstatus_to_exitcode(status), flush=True)
"""

# A forked child that never tracked flushes: nothing of its own is pending.
FORK_FLUSH = """
import os, sys, time
import trackwell

client = trackwell.Client(sys.argv[1], sys.argv[2], flush_interval=60)
client.track("parent", "Feature Used", {"feature_name": "projects"}, message_id="p-0")
assert client.flush(10)
for i in range(1, 50):
    client.track("parent", "Feature Used", {"feature_name": "projects"}, message_id=f"p-{i}")
pid = os.fork()
if pid == 0:
    started = time.monotonic()
    flushed = client.flush(2)
    print("child-flush", flushed, round(time.monotonic() - started, 2), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
assert client.flush(10)
client.close()
client.store.close()
"""


class Child:
    """A Python child process whose stdout lines are collected as they come."""

    def __init__(self, script: Path, *args: str, log: Path) -> None:
        self._log = log.open("wb")
        self.log_path = log
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if not line.endswith("\n"):
                continue  # cut short by the kill: the child never finished saying it
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The first line that satisfies `predicate`; fails with the child's stderr on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"child said {self.lines[-5:]!r}; stderr:\n{self.stderr()}"
                    )
                self._changed.wait(min(remaining, 0.1))

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL, then collect every line written before death."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)

    def stderr(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._log.close()


@contextmanager
def child(script: Path, *args: str, log: Path) -> Iterator[Child]:
    running = Child(script, *args, log=log)
    try:
        yield running
    finally:
        running.close()


def write_script(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def run(script: Path, *args: str) -> str:
    """Run a child to completion; its stdout (fails with its stderr if it failed)."""
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@contextmanager
def opened(url: str) -> Iterator[Store]:
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def logged(store: Store, users: list[str]) -> dict[str, int]:
    """messageId -> log position of every logged message of these people; fails on a repeat."""
    found: dict[str, int] = {}
    for user in users:
        for entry in store.timeline(user, limit=10_000_000).entries:
            if entry.seq is None:
                continue
            message_id = entry.message["messageId"]
            assert message_id not in found, f"{message_id} is stored twice"
            found[message_id] = entry.seq
    return found


def claim_everything(store: Store, now_ms: int) -> list[str]:
    found: list[str] = []
    while batch := store.claim(HOOK, 1000, now_ms):
        found += [d.message["messageId"] for d in batch]
        store.ack(HOOK, [DeliveryResult(d.seq, "delivered") for d in batch], now_ms)
    return found


def number(message_id: str) -> int:
    return int(message_id.split("-", 1)[1])


# -- SIGKILL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "cycles", "chunk"), [("batched", 5, 2000), ("sync", 3, 100)])
def test_sigkill_loses_nothing_acknowledged_and_deliveries_resume(
    tmp_path: Path, mode: str, cycles: int, chunk: int
) -> None:
    db = tmp_path / "app" / "trackwell.db"
    url = f"sqlite:///{db}"
    script = write_script(tmp_path, "tracker", TRACKER)
    rng = random.Random(os.getpid() ^ time.time_ns())
    with opened(url) as store:
        store.register_destination(HOOK)

    total = 0
    for cycle in range(cycles):
        start = cycle * 1_000_000
        log = tmp_path / f"tracker-{cycle}.log"
        with child(script, str(EXAMPLE_PLAN), url, str(start), mode, str(chunk), log=log) as proc:
            proc.wait_for(lambda line: line.startswith("stored "))
            time.sleep(rng.uniform(0.05, 0.4))  # somewhere mid-track, mid-flush or mid-commit
            proc.kill()
            acknowledged = [line.split()[1] for line in proc.lines if line.startswith("stored ")]
        assert acknowledged, proc.stderr()
        last = max(number(i) for i in acknowledged)

        with opened(url) as store:  # a new process on the same file
            found = logged(store, USERS)
            this_cycle = sorted(number(i) for i in found if number(i) >= start)
            # Every acknowledged id is there, once; what got in after it is a gapless run
            # (batches commit whole and in order, or not at all).
            assert this_cycle == list(range(start, start + len(this_cycle)))
            assert this_cycle[-1] >= last, f"e-{last} was acknowledged but is not stored"
            for n in range(start, last + 1):  # each acknowledged id, by id
                entry = store.get(f"e-{n}")
                assert entry is not None and entry.verdict == "accepted", f"e-{n} is lost"
            total += len(this_cycle)
            assert store.count() == total == len(found)

            # The dead process held the queue's lease and unacked claims: they come back.
            pending = claim_everything(store, int(time.time() * 1000) + LATER_MS)
            assert pending == [f"e-{n}" for n in this_cycle]
            store.release(HOOK)  # hand the queue to the next process at once


# -- spill files left behind ------------------------------------------------------------------


SPILLED_ID = re.compile(rb'messageId\\?"\s*:\s*\\?"(s-\d+)\\?"')


def spilled_ids(folder: Path) -> set[str]:
    """The message ids in every spill file in `folder`, whatever its name and record format.

    Ids are read from the messages' wire JSON, which every record carries. The last record of a
    file may be torn by the kill, so its id is not counted.
    """
    found: set[str] = set()
    for path in folder.iterdir():
        if "spill" in path.name:
            ids = [m.decode() for m in SPILLED_ID.findall(path.read_bytes())]
            found |= set(ids[:-1])
    return found


@pytest.mark.parametrize("where", ["process", "forked child"])
def test_a_spill_file_left_by_a_killed_process_is_replayed_once(tmp_path: Path, where: str) -> None:
    db = tmp_path / "app" / "trackwell.db"
    url = f"sqlite:///{db}"
    spiller = write_script(tmp_path, "spiller", SPILLER)
    burst = 3000
    mode = "fork" if where == "forked child" else "plain"
    with child(
        spiller, str(EXAMPLE_PLAN), url, str(burst), mode, log=tmp_path / "spiller.log"
    ) as proc:
        proc.wait_for(lambda line: line == "ready")
        # Hold the write lock, so the writer cannot drain the queue and the burst must spill.
        locker = sqlite3.connect(db, isolation_level=None, timeout=10)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            proc.send("go\n")
            worker = int(proc.wait_for(lambda line: line.startswith("spilled ")).split()[1])
            if worker != proc.proc.pid:
                os.kill(worker, signal.SIGKILL)  # the forked child, not reaped by Popen
            proc.kill()
            left = spilled_ids(db.parent)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    assert len(left) > burst // 2, "the burst did not reach the spill file"

    replayer = write_script(tmp_path, "replayer", REPLAYER)
    assert run(replayer, str(EXAMPLE_PLAN), url).split() == ["flushed", "True", "True"]

    with opened(url) as store:
        found = logged(store, USERS)
        missing = sorted(left - set(found), key=number)
        assert missing == [], f"{len(missing)} spilled messages never stored, e.g. {missing[:5]}"
        assert store.count() == len(found)
    assert spilled_ids(db.parent) == set()  # replayed files are removed


# -- fork ---------------------------------------------------------------------------------------


def test_parent_and_forked_child_both_store_everything_once(tmp_path: Path) -> None:
    db = tmp_path / "app" / "trackwell.db"
    url = f"sqlite:///{db}"
    forker = write_script(tmp_path, "forker", FORKER)
    assert run(forker, str(EXAMPLE_PLAN), url).split() == [
        "parent-flushed",
        "True",
        "child-exit",
        "0",
    ]
    with opened(url) as store:
        found = logged(store, ["parent", "child"])
        assert store.count() == 400
    assert set(found) == {f"p-{i}" for i in range(300)} | {f"c-{i}" for i in range(100)}
    parent_order = [found[f"p-{i}"] for i in range(300)]
    child_order = [found[f"c-{i}"] for i in range(100)]
    assert parent_order == sorted(parent_order) and child_order == sorted(child_order)


def test_a_forked_child_flush_does_not_wait_for_its_parents_messages(tmp_path: Path) -> None:
    db = tmp_path / "app" / "trackwell.db"
    script = write_script(tmp_path, "fork_flush", FORK_FLUSH)
    said = run(script, str(EXAMPLE_PLAN), f"sqlite:///{db}").split()
    assert said[:2] == ["child-flush", "True"], said
    assert float(said[2]) < 1.0, f"the child's flush() waited {said[2]} s"
    with opened(f"sqlite:///{db}") as store:
        assert store.count() == 50
