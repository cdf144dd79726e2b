"""Queue owners: a lease held by a process of this machine that died is taken over at once;
a live holder, or one on another machine, keeps it until it runs out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from trackwell.pipeline.accept import accept
from trackwell.plan import load_plan
from trackwell.quality.compiled import compile_plan
from trackwell.store import DeliveryFilter
from trackwell.store.sql.owners import new_owner, owner_is_gone, this_node
from trackwell.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"
NOW = 1_800_000_000_000


def signup(n: int) -> dict[str, Any]:
    """A planned event that the example plan accepts as it is."""
    return {
        "type": "track",
        "messageId": f"m{n}",
        "userId": f"u{n}",
        "event": "Account Created",
        "properties": {"plan": "pro", "signup_source": "organic"},
    }


def exited_pid() -> int:
    """The pid of a process that ran and was reaped (free, unless reused meanwhile)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_an_owner_name_says_where_it_runs() -> None:
    node, pid, nonce = new_owner().split(":")
    assert node == this_node() and int(pid) == os.getpid() and len(nonce) == 8
    assert new_owner() != new_owner()


def test_only_a_dead_process_of_this_machine_is_gone() -> None:
    node = this_node()
    assert owner_is_gone(f"{node}:{exited_pid()}:abcd1234")
    assert not owner_is_gone(f"{node}:{os.getpid()}:abcd1234")  # this very process
    assert not owner_is_gone(f"{node}:{os.getppid()}:abcd1234")  # alive
    assert not owner_is_gone(f"{node}:1:abcd1234")  # alive (init), perhaps not ours to signal
    assert not owner_is_gone(f"elsewhere/0/0:{exited_pid()}:abcd1234")  # cannot be checked
    for unreadable in ("", "garbage", f"{node}:", f"{node}:-5:x", f"{node}:12ab:x"):
        assert not owner_is_gone(unreadable)


CRASHING_ROUTER = """
import os, sys
from trackwell.store.sqlite import SQLiteStore
store = SQLiteStore(sys.argv[1])
claimed = store.claim("hook", 100, int(sys.argv[2]))
print(len(claimed), flush=True)
os._exit(0)  # dies holding the lease: no ack, no release, no close
"""


def test_a_queue_held_by_a_dead_router_is_taken_at_once(tmp_path: Path) -> None:
    db = tmp_path / "owners.db"
    store = SQLiteStore(str(db))
    try:
        store.register_destination("hook", DeliveryFilter())
        compiled = compile_plan(load_plan(PLAN))
        accept(store, compiled, [signup(n) for n in range(3)])
        crashed = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(CRASHING_ROUTER), str(db), str(NOW)],
            check=True,
            capture_output=True,
            text=True,
        )
        assert crashed.stdout.strip() == "3"  # it held the queue and had the messages out
        # Same instant, so the lease is nowhere near its end: only the owner's death frees it.
        again = store.claim("hook", 100, NOW + 1)
        assert sorted(d.message["messageId"] for d in again) == ["m0", "m1", "m2"]
    finally:
        store.close()


def test_a_live_holder_keeps_its_queue(tmp_path: Path) -> None:
    db = tmp_path / "owners.db"
    first, second = SQLiteStore(str(db)), SQLiteStore(str(db))
    try:
        first.register_destination("hook", DeliveryFilter())
        accept(
            first,
            compile_plan(load_plan(PLAN)),
            [signup(0)],
        )
        assert len(first.claim("hook", 10, NOW)) == 1
        # Another store in this process stands for a second router on this machine: the
        # holder runs, so the lease stands until it ends.
        assert second.claim("hook", 10, NOW + 1) == []
    finally:
        first.close()
        second.close()
