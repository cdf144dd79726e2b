"""What a retention pass costs: how long it takes to remove most of a store, and what it does to
a writer that keeps writing meanwhile (as a gateway would).

Run by hand: `python bench/bench_retention.py [--messages 300000] [--url URL] [--folder DIR]`.
The store (a new SQLite file, or a PostgreSQL URL whose `?schema=` is made fresh) gets
`--messages` ~600-byte events received evenly over the last 20 days, in arrival order; a pass with
`log_days = 7` then removes the 12 oldest days (the last 8 are kept). Printed, for the pass alone and for the pass while
a writer commits batches of 100 back to back: the pass's seconds and rows/s, and the writer's
batch latency (median, p99, max) against the same writer with no pass running.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_gateway import PLAN, event  # noqa: E402

from trackwell.core.time import DAY_MS, day_start, now_ms  # noqa: E402
from trackwell.pipeline.accept import prepare  # noqa: E402
from trackwell.plan import load_plan  # noqa: E402
from trackwell.quality.compiled import CompiledPlan, compile_plan  # noqa: E402
from trackwell.store import Store, open_store  # noqa: E402

DAYS = 20
LOG_DAYS = 7
BATCH = 1000
WRITER_BATCH = 100


def build(url: str, compiled: CompiledPlan, messages: int) -> None:
    """`messages` events received evenly over the last DAYS days, oldest first."""
    rng = random.Random(7)
    store = open_store(url)
    today = now_ms() // DAY_MS
    per_day = messages // DAYS
    try:
        for back in range(DAYS, 0, -1):
            start = day_start(today - back + 1)
            for offset in range(0, per_day, BATCH):
                received = start + timedelta(seconds=offset * 86_400 / per_day)
                store.write_batch(
                    [
                        prepare(compiled, event(rng), received, source="bench")
                        for _ in range(min(BATCH, per_day - offset))
                    ]
                )
    finally:
        store.close()


def write_until(store: Store, compiled: CompiledPlan, stop: threading.Event) -> list[float]:
    """Batches of WRITER_BATCH new events, back to back, until `stop`; each batch's seconds."""
    rng = random.Random(11)
    latencies: list[float] = []
    while not stop.is_set():
        batch = [prepare(compiled, event(rng), datetime.now(UTC)) for _ in range(WRITER_BATCH)]
        started = time.perf_counter()
        store.write_batch(batch)
        latencies.append(time.perf_counter() - started)
    return latencies


def summary(latencies: list[float]) -> str:
    """Median, p99 and max of a writer's batch latencies, in ms."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"
        f"  max {ordered[-1] * 1000:7.1f} ms  ({len(ordered)} batches)"
    )


def timed_pass(url: str, compiled: CompiledPlan, *, with_writer: bool) -> None:
    """One pass over a freshly built store, alone or beside a writer; prints its figures."""
    store = open_store(url)
    writer_store = open_store(url)
    stop = threading.Event()
    found: list[list[float]] = []
    writer = threading.Thread(
        target=lambda: found.append(write_until(writer_store, compiled, stop)), daemon=True
    )
    try:
        if with_writer:
            writer.start()
            time.sleep(2)
        started = time.perf_counter()
        report = store.apply_retention(log_days=LOG_DAYS, blocked_days=None, now_ms=now_ms())
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        if with_writer:
            writer.join(60)
        store.close()
        writer_store.close()
    label = "pass beside a writer" if with_writer else "pass alone"
    dropped = f", {len(report.partitions_dropped)} partitions" if report.partitions_dropped else ""
    print(
        f"{label:>22}: {report.log_rows:,} rows in {seconds:.1f} s"
        f" ({report.log_rows / seconds:,.0f} rows/s{dropped})"
    )
    if found:
        print(f"{'writer meanwhile':>22}: {summary(found[0])}")


def baseline(url: str, compiled: CompiledPlan, seconds: float = 5.0) -> None:
    """The same writer with no pass running."""
    store = open_store(url)
    stop = threading.Event()
    found: list[list[float]] = []
    writer = threading.Thread(target=lambda: found.append(write_until(store, compiled, stop)))
    writer.start()
    time.sleep(seconds)
    stop.set()
    writer.join(60)
    store.close()
    print(f"{'writer, no pass':>22}: {summary(found[0])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    compiled = compile_plan(load_plan(PLAN))
    folder = Path(tempfile.mkdtemp(prefix="bench-retention-", dir=args.folder or ROOT / "bench"))

    schemas: list[str] = []

    def fresh() -> str:
        if args.url is None:
            return f"sqlite:///{folder / (uuid.uuid4().hex + '.db')}"
        schemas.append(f"bench_{uuid.uuid4().hex[:10]}")
        joiner = "&" if "?" in args.url else "?"
        return f"{args.url}{joiner}schema={schemas[-1]}"

    try:
        print(f"{args.messages:,} messages over {DAYS} days; log_days = {LOG_DAYS}")
        for with_writer in (False, True):
            url = fresh()
            build(url, compiled, args.messages)
            if with_writer:
                baseline(url, compiled)
            timed_pass(url, compiled, with_writer=with_writer)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if schemas:
            import psycopg

            with psycopg.connect(args.url, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
