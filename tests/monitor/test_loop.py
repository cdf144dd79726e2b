"""Monitors inside the gateway: a round on start, the latest evaluation kept, a clean stop."""

from __future__ import annotations

import time
from pathlib import Path

from trackwell.monitor.loop import MonitorLoop
from trackwell.pipeline import accept
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import open_store


def test_the_loop_evaluates_and_keeps_the_latest(tmp_path: Path, example_plan: Plan) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'tw.db'}")
    compiled = compile_plan(example_plan)
    accept(
        store,
        compiled,
        [
            {
                "type": "track",
                "userId": "u1",
                "event": "Feature Used",
                "properties": {"feature_name": "projects", "card": "4111 1111 1111 1111"},
            }
        ],
    )
    loop = MonitorLoop(
        store,
        lambda: compiled,
        monitors={},
        alerts={},
        destinations={},
        base_dir=tmp_path,
        interval=60,
    )
    loop.start()
    deadline = time.monotonic() + 10
    while loop.latest is None and time.monotonic() < deadline:
        time.sleep(0.05)
    loop.stop()
    store.close()
    assert loop.latest is not None
    assert any(
        f.monitor == "sensitive_data" and f.severity == "critical" for f in loop.latest.findings
    )
