"""SIGKILL under load on SQLite: a real `trackwell serve` killed at random points, several times,
while clients keep sending; a `trackwell route` killed mid-batch while another waits for its lease.

After each run the ledger must hold: every acknowledged message stored exactly once, delivered
to the tool (which keeps one copy per id), and each person's messages first delivered in the
order they were sent. (SIGKILL of the SDK's host is tests/sdk/test_crash.py; of gateways and
routers on PostgreSQL, tests/scaleout/test_multiprocess.py.)
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PLAN
from trackwell.pipeline.accept import accept
from trackwell.plan import load_plan
from trackwell.quality import compile_plan
from trackwell.store import DeliveryFilter, open_store

from .helpers import (
    Ledger,
    Router,
    Sender,
    Sequencer,
    TimedWebhook,
    hook_config,
    hook_env,
    lease_owner,
    start_gateway,
    wait_until,
)

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

GATEWAY_CYCLES = 4
ROUTER_KILLS = 3


def test_gateway_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(os.getpid() ^ time.time_ns())
    hook = TimedWebhook().start()
    hook_config(tmp_path, batch_size=100)
    # The dead process's router held the queue's lease (the default 30 s): the next gateway's
    # router sees that process is gone and takes the queue at once.
    env = hook_env(hook)
    ledger = Ledger()
    served = start_gateway(tmp_path, "--no-watch-plan", "--log-level", "warning", env=env)
    url = [served.url]
    senders = [
        Sender(url, Sequencer(f"k{i}", [f"p{i}-{j}" for j in range(8)]), ledger) for i in range(3)
    ]
    db = tmp_path / "gateway.db"
    try:
        for sender in senders:
            sender.start()
        for _ in range(GATEWAY_CYCLES):
            before = len(ledger.snapshot())
            # Somewhere in a request, a group commit, a delivery or an ack.
            assert wait_until(lambda b=before: len(ledger.snapshot()) > b, 20), served.logs()
            time.sleep(rng.uniform(0.05, 0.6))
            served.stop(signal.SIGKILL)
            assert served.process.returncode == -signal.SIGKILL
            ledger.check_stored(db, exactly=False)  # what the dead process acknowledged is there
            served = start_gateway(tmp_path, "--no-watch-plan", "--log-level", "warning", env=env)
            url[0] = served.url
        assert wait_until(lambda: sum(s.batches for s in senders) > 0, 10)
        time.sleep(0.3)
    finally:
        for sender in senders:
            sender.stop.set()
        for sender in senders:
            sender.join(70)
    try:
        acked = ledger.snapshot()
        assert sum(s.retries for s in senders) > 0, "no request was cut by a kill"
        assert [e for s in senders for e in s.errors] == []
        assert wait_until(lambda: acked <= set(hook.ids()), 60), (
            f"{len(acked - set(hook.ids()))} acknowledged messages never delivered"
        )
    finally:
        served.stop()
        hook.stop()
    ledger.check_stored(db)
    ledger.check_delivered(hook.ids())
    assert "Traceback" not in served.logs()


def test_router_sigkill_mid_batch_hands_the_queue_over(tmp_path: Path) -> None:
    rng = random.Random(os.getpid() ^ time.time_ns())
    hook = TimedWebhook(delay=0.15).start()  # a slow tool: kills land inside a request
    hook_config(tmp_path, batch_size=25)
    db = tmp_path / "route.db"
    url = f"sqlite:///{db}"
    # The default lease (30 s): a killed router on this machine is seen to be gone, and its
    # queue taken over at once, well inside the 20 s the test waits for it.
    env = hook_env(hook)
    store = open_store(url)
    store.register_destination("hook", DeliveryFilter())  # before the first message
    compiled = compile_plan(load_plan(EXAMPLE_PLAN))
    sequencer = Sequencer("r", [f"q{j}" for j in range(12)])
    ledger = Ledger()

    def feed(batches: int) -> None:
        for _ in range(batches):
            batch = sequencer.batch(20)
            results = accept(store, compiled, batch)
            assert all(r.verdict != "blocked" for r in results)
            ledger.add(m["messageId"] for m in batch)

    routers = [Router(tmp_path, url, env, f"router-{i}") for i in range(2)]
    killed: list[int] = []
    try:
        feed(10)
        for round_ in range(ROUTER_KILLS):
            assert wait_until(lambda: lease_owner(db, "hook")[0] is not None, 20)
            owner, _ = lease_owner(db, "hook")
            victim = next((r for r in routers if r.pid == owner), None)
            assert victim is not None, f"lease held by {owner}, not by a router of this test"
            # Mid-batch: the owner has a request in flight at the tool.
            assert hook.in_flight.wait(20)
            time.sleep(rng.uniform(0.0, 0.1))
            victim.kill()
            killed.append(owner)
            routers.remove(victim)
            routers.append(Router(tmp_path, url, env, f"router-{len(killed) + 1}-{round_}"))
            feed(8)
            # The survivor takes the queue over without waiting for the dead owner's lease.
            assert wait_until(lambda o=owner: lease_owner(db, "hook")[0] not in (None, o), 20)
        feed(5)
        acked = ledger.snapshot()
        assert wait_until(lambda: acked <= set(hook.ids()), 60), (
            f"{len(acked - set(hook.ids()))} messages never delivered; "
            + "".join(r.output()[-1500:] for r in routers)
        )
    finally:
        for router in routers:
            router.stop()
        hook.stop()
        store.close()
    assert len(killed) == ROUTER_KILLS
    ledger.check_stored(db)
    ledger.check_delivered(hook.ids())
    assert hook.duplicates > 0, "no batch was re-sent after a kill: the kills missed the batches"
    for router in routers:
        assert "Traceback" not in router.output()
