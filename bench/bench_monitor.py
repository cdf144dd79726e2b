"""Monitor evaluation over 13 months of rollups, and what keeping the rollups costs ingest."""

# Run by hand: `python bench/bench_monitor.py`. The rollup tables are filled directly (200 event
# names, 2 sources, 3 destinations, 395 days) because writing that history message by message
# would take hours; ingest is then timed through `Store.write_batch` with the rollup tally on,
# and monkeypatched to a no-op, in the same run. Compare rows of one run, not machines.

from __future__ import annotations

import contextlib
import importlib
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import orjson
import yaml

from trackwell.core.histogram import BOUNDS
from trackwell.monitor import evaluate, load_options
from trackwell.monitor.audit import audit
from trackwell.pipeline.accept import prepare
from trackwell.plan import parse_plan
from trackwell.quality import compile_plan
from trackwell.quality.compiled import CompiledPlan
from trackwell.store import Checked, open_store

EVENTS = 200
DAYS = 395  # 13 months
SOURCES = ("backend", "web")
DESTINATIONS = ("customerio", "mixpanel", "amplitude")
INGEST_MESSAGES = 60_000
BATCH = 500
REPEATS = 5


def make_plan() -> CompiledPlan:
    """A plan of EVENTS events, a few properties each; every other one used by a workflow."""
    events = {
        f"Event {n:03d} Happened": {
            "stage": "Engagement",
            "description": "Synthetic.",
            "used_by": ["Workflow"] if n % 2 else [],
            "properties": {"plan": {"type": "string", "enum": ["free", "pro"]}, "count": "integer"},
        }
        for n in range(EVENTS)
    }
    doc = {"trackwell": 1, "name": "Bench", "version": 1, "events": events,
           "traits": {"email": {"type": "string", "required": True}}}  # fmt: skip
    return compile_plan(parse_plan(yaml.safe_dump(doc), "bench-plan.yaml"))


def seed_rollups(path: Path, today: int) -> int:
    """Write DAYS of day rows (and a week of hour rows) straight into the rollup tables."""
    rng = random.Random(7)
    names = [f"Event {n:03d} Happened" for n in range(EVENTS)]
    histogram = orjson.dumps(
        [0, 0, 0, 40, 300, 500, 100, 30, 5, 1] + [0] * (len(BOUNDS) - 10)
    ).decode()
    conn = sqlite3.connect(path)
    rows = 0
    with conn:
        usual = {name: rng.randint(50, 5000) for name in names}
        for day in range(today - DAYS + 1, today + 1):
            events, deliveries = [], []
            for name in names:
                base = int(usual[name] * rng.uniform(0.9, 1.1))
                for source in SOURCES:
                    events.append((day, -1, source, name, "track", base, base - 3, 2, 1, 0, 4))
                    if day > today - 8:
                        for hour in range(24):
                            n = base // 24
                            events.append((day, hour, source, name, "track", n, n, 0, 0, 0, 0))
                for destination in DESTINATIONS:
                    deliveries.append(
                        (day, destination, name, 2 * base - 6, 3, 0, histogram, histogram)
                    )
            conn.executemany("INSERT INTO rollup_events VALUES (?,?,?,?,?,?,?,?,?,?,?)", events)
            conn.executemany("INSERT INTO rollup_deliveries VALUES (?,?,?,?,?,?,?,?)", deliveries)
            conn.executemany(
                "INSERT INTO rollup_codes VALUES (?,?,?,?,?)",
                [(day, "web", name, "invalid_property", 1) for name in names[:20]],
            )
            conn.execute("INSERT INTO rollup_people VALUES (?,?,?,?)", (day, 900, 950, 880))
            rows += len(events) + len(deliveries) + 21
    conn.close()
    return rows


def timed(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, float]:
    """Median and best seconds per call."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), min(runs)


def writes_module() -> ModuleType:
    """The module holding the store's write path (it moved once already)."""
    for name in ("trackwell.store.sql.writes", "trackwell.store.sqlite.writes"):
        with contextlib.suppress(ImportError):
            return importlib.import_module(name)
    raise RuntimeError("cannot find the store's write path")


@contextlib.contextmanager
def rollups_off() -> Iterator[None]:
    """The rollup tally, and the helper that feeds it, as no-ops."""
    writes = writes_module()
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(writes.Tally, "count", lambda *a, **k: None))
        stack.enter_context(mock.patch.object(writes.Tally, "flush", lambda *a, **k: None))
        if hasattr(writes, "_count"):
            stack.enter_context(mock.patch.object(writes, "_count", lambda *a, **k: None))
        yield


def messages(plan: CompiledPlan) -> list[Checked]:
    """Realistic traffic, checked up front so only the store's write is timed."""
    rng = random.Random(11)
    start = datetime.now(UTC) - timedelta(hours=2)
    out = []
    for n in range(INGEST_MESSAGES):
        received = start + timedelta(milliseconds=n * 50)
        name = f"Event {rng.randrange(EVENTS):03d} Happened"
        item = {"type": "track", "userId": f"user-{rng.randrange(20_000)}", "event": name,
                "properties": {"plan": rng.choice(["free", "pro", "gold"]), "count": n},
                "timestamp": (received - timedelta(seconds=rng.choice([0, 1, 5]))).isoformat()}  # fmt: skip
        out.append(prepare(plan, item, received, source=rng.choice(SOURCES)))
    return out


def ingest_rate(batch: list[Checked], directory: Path, label: str) -> float:
    """Messages per second through write_batch into a fresh store."""
    store = open_store(f"sqlite:///{directory / f'{label}-{time.perf_counter_ns()}.db'}")
    try:
        started = time.perf_counter()
        for index in range(0, len(batch), BATCH):
            store.write_batch(batch[index : index + BATCH])
        return len(batch) / (time.perf_counter() - started)
    finally:
        store.close()


def evaluation_rows(directory: Path, plan: CompiledPlan) -> list[tuple[str, str]]:
    """Seed 13 months of rollups, then time the monitors and the audit over them."""
    today = int(time.time() // 86400)
    now_ms = today * 86_400_000 + 15 * 3_600_000
    path = directory / "history.db"
    open_store(f"sqlite:///{path}").close()
    started = time.perf_counter()
    rows = seed_rollups(path, today)
    seeded = f"{rows:,} in {time.perf_counter() - started:.1f} s"
    out = [("rollup rows (13 months, 200 events)", seeded)]
    store = open_store(f"sqlite:///{path}")
    destinations = {d: {"type": d} for d in DESTINATIONS}
    options = load_options(
        {
            "parity": {"pairs": [["customerio", "mixpanel"]]},
            "volume_budget": {"budgets": {"customerio": 10_000_000}},
        }
    )

    def run() -> Any:
        return evaluate(store, plan, now_ms=now_ms, options=options, destinations=destinations)

    result = run()
    assert not result.errors, result.errors
    median, best = timed(run)
    shown = f"{median * 1000:.0f} ms median, {best * 1000:.0f} ms best"
    out.append(
        ("monitor evaluation, all 10 monitors", f"{shown} ({len(result.findings)} findings)")
    )
    for days in (90, DAYS):
        median, _ = timed(lambda d=days: audit(store, plan, today=today, days=d), 3)
        out.append((f"audit over {days} days", f"{median * 1000:.0f} ms median"))
    store.close()
    return out


def ingest_rows(directory: Path, plan: CompiledPlan) -> list[tuple[str, str]]:
    """Ingest with the rollups on and off, interleaved so drift in the machine hits both alike."""
    batch = messages(plan)
    on, off = [], []
    for _ in range(3):
        on.append(ingest_rate(batch, directory, "on"))
        with rollups_off():
            off.append(ingest_rate(batch, directory, "off"))
    best_on, best_off = max(on), max(off)
    return [
        ("ingest, rollups on", f"{best_on:,.0f} msg/s (best of 3, batches of {BATCH})"),
        ("ingest, rollups off", f"{best_off:,.0f} msg/s"),
        ("cost of the rollups", f"{(1 - best_on / best_off) * 100:.1f} % (target: under 10 %)"),
    ]


def main() -> None:
    """Print the table."""
    plan = make_plan()
    with tempfile.TemporaryDirectory() as tmp:
        rows = evaluation_rows(Path(tmp), plan) + ingest_rows(Path(tmp), plan)
    width = max(len(label) for label, _ in rows)
    print(f"{'measure'.ljust(width)} | result")
    print(f"{'-' * width}-|-{'-' * 50}")
    for label, value in rows:
        print(f"{label.ljust(width)} | {value}")


if __name__ == "__main__":
    main()
