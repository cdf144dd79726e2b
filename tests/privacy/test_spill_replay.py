"""An SDK outbox replayed after a crash cannot bring an erased person back: a process killed
with its spill file full of the person's messages, the person erased, then a new `Client`
replays the file, and the store keeps nothing of them; and an erase writes such leftover files
itself (through the edge), so none keeps the person until a Client happens to start."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PLAN
from tests.privacy.people import ADA, ADA_ANON, ADA_EMAIL, BOB, leftovers
from tests.sdk.test_crash import REPLAYER, child, opened, run, spilled_ids, write_script
from trackwell.cli import app
from trackwell.pipeline.privacy import PrivacyService

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

# Tracks "ready" and flushes; on "go" tracks a burst (Ada at even numbers, Bob at odd ones) into
# a tiny queue that must spill while the test holds the write lock, says so, and waits to be killed.
SPILLER = f"""
import sys, time
import trackwell

plan, url, burst = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = trackwell.Client(plan, url, max_queue_size=50)
client.track({BOB!r}, "Feature Used", {{"feature_name": "projects"}}, message_id="ready")
assert client.flush(10)
print("ready", flush=True)
sys.stdin.readline()
for i in range(burst):
    if i % 2:
        client.track({BOB!r}, "Feature Used", {{"feature_name": "projects"}}, message_id=f"s-{{i}}")
    else:
        client.identify({ADA!r}, {{"email": {ADA_EMAIL!r}, "created_at": 1700000000}},
                        anonymous_id={ADA_ANON!r}, message_id=f"s-{{i}}")
print("spilled", client.stats.spilled, flush=True)
while True:
    time.sleep(0.05)
"""


def crash_with_a_spill_file(tmp_path: Path, burst: int = 2000) -> tuple[str, set[str], set[str]]:
    """A process killed with a spill file beside the store: (store URL, the spilled message
    ids, Ada's among them)."""
    folder = tmp_path / "app"
    db = folder / "trackwell.db"
    url = f"sqlite:///{db}"
    spiller = write_script(tmp_path, "spiller", SPILLER)
    with child(spiller, str(EXAMPLE_PLAN), url, str(burst), log=tmp_path / "spiller.log") as proc:
        proc.wait_for(lambda line: line == "ready")
        # Hold the write lock so the writer cannot drain the queue: the burst must spill.
        locker = sqlite3.connect(db, isolation_level=None, timeout=10)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            proc.send("go\n")
            proc.wait_for(lambda line: line.startswith("spilled "))
            proc.kill()
            left = spilled_ids(folder)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    adas = {i for i in left if int(i[2:]) % 2 == 0}
    assert len(adas) > burst // 4, "the burst did not reach the spill file"
    return url, left, adas


def test_a_spill_file_replayed_after_a_crash_brings_no_erased_person_back(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    url, left, adas = crash_with_a_spill_file(tmp_path)

    with opened(url) as store:
        PrivacyService(store, []).request("erase", ADA, actor="test")
    replayer = write_script(tmp_path, "replayer", REPLAYER)
    assert run(replayer, str(EXAMPLE_PLAN), url).split() == ["flushed", "True", "True"]

    with opened(url) as store:
        assert store.timeline(ADA).entries == () and store.timeline(ADA_ANON).entries == ()
        bobs = {e.message["messageId"] for e in store.timeline(BOB, limit=100_000).entries}
        # Bob's spilled messages came back; Ada's were dropped at the edge.
        assert left - adas <= bobs and not adas & bobs
    assert spilled_ids(folder) == set()  # replayed files are removed
    assert leftovers(folder) == {}


def test_an_erase_writes_the_spill_files_dead_processes_left_so_none_keeps_the_person(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "app"
    url, left, adas = crash_with_a_spill_file(tmp_path)
    assert leftovers(folder), "the spill file should hold Ada before the erase"

    result = CliRunner().invoke(
        app, ["privacy", "erase", ADA, "--yes", "--no-wait", "--store", url]
    )
    assert result.exit_code == 0, result.output

    # No Client was started: the erase itself wrote the dead process's spill file through the
    # store's edge, and removed it.
    assert spilled_ids(folder) == set()
    assert leftovers(folder) == {}
    with opened(url) as store:
        assert store.timeline(ADA).entries == () and store.timeline(ADA_ANON).entries == ()
        bobs = {e.message["messageId"] for e in store.timeline(BOB, limit=100_000).entries}
        assert left - adas <= bobs and not adas & bobs
