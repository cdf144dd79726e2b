"""What the privacy edge costs the write path: `Store.write_batch` on SQLite without the edge
check and without secure_delete (the write path before issue 18), with secure_delete, with the
edge check and no marks (the usual store), and with 10,000 people erased (every message hashed
and looked up).

Run by hand: `python bench/bench_edge.py [--rounds 15] [--synchronous normal|full]`. The four
stores live in one temporary folder beside this file; rounds alternate between them so all see
the same disk and neighbours. Prints the median milliseconds per transaction and the ratio to
the first column. NORMAL (the default here) leaves out the fsync, which would drown the
difference in disk noise; `--synchronous full` measures what a default store pays.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_gateway import PLAN, event  # noqa: E402

from trackwell.core.privacy import Subject  # noqa: E402
from trackwell.pipeline.accept import prepare  # noqa: E402
from trackwell.plan import load_plan  # noqa: E402
from trackwell.quality.compiled import compile_plan  # noqa: E402
from trackwell.store import Checked  # noqa: E402
from trackwell.store.sql.marks import MarkSet  # noqa: E402
from trackwell.store.sql.store import SQLStore  # noqa: E402
from trackwell.store.sqlite import SQLiteStore  # noqa: E402

GROUP_SIZES = (100, 1000)
CASES = ("before", "secure_delete", "edge, no marks", "edge, 10k erased")
ERASED = 10_000


def batches(rounds: int, size: int, seed: int) -> list[list[Checked]]:
    """Prepared batches of ~600-byte events of 20,000 people, every messageId new."""
    rng = random.Random(seed)
    compiled = compile_plan(load_plan(PLAN))
    now = datetime.now(UTC)
    return [
        [prepare(compiled, event(rng), now, source="bench") for _ in range(size)]
        for _ in range(rounds)
    ]


class _NoEdge:
    """Stands in for a store's marks: never reads them, never drops (the write path before)."""

    def refresh(self, conn: object) -> MarkSet:
        return MarkSet()


def open_case(folder: Path, case: str, synchronous: str) -> SQLiteStore:
    """One store set up as the case says."""
    store = SQLiteStore(str(folder / f"{case.replace(' ', '_')}.db"), synchronous=synchronous)
    if case == "before":
        store._marks = _NoEdge()  # type: ignore[assignment]
        with store.connections.read() as conn:
            conn.execute("PRAGMA secure_delete = OFF")
    elif case == "secure_delete":
        store._marks = _NoEdge()  # type: ignore[assignment]
    elif case == "edge, 10k erased":
        for start in range(0, ERASED, 1000):
            people = tuple(f"gone-{i}" for i in range(start, start + 1000))
            SQLStore.erase(
                store,
                Subject(people),
                request_id=f"r{start}",
                actor="bench",
                destinations=[],
                now_ms=1,
            )
    return store


def run(folder: Path, rounds: int, synchronous: str) -> list[tuple[int, dict[str, float]]]:
    """Median seconds per transaction for each group size and case."""
    stores = {case: open_case(folder, case, synchronous) for case in CASES}
    rows = []
    try:
        for size in GROUP_SIZES:
            work = {case: batches(rounds, size, seed=size * 10 + i) for i, case in enumerate(CASES)}
            times: dict[str, list[float]] = {case: [] for case in CASES}
            for n in range(rounds):
                order = CASES if n % 2 == 0 else CASES[::-1]
                for case in order:
                    started = time.perf_counter()
                    stores[case].write_batch(work[case][n])
                    times[case].append(time.perf_counter() - started)
            rows.append((size, {case: statistics.median(times[case]) for case in CASES}))
    finally:
        for store in stores.values():
            store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--synchronous", default="normal", choices=["normal", "full"])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-edge-", dir=ROOT / "bench"))
    try:
        rows = run(folder, args.rounds, args.synchronous.upper())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"write_batch, synchronous={args.synchronous}, median ms of {args.rounds} transactions")
    print(f"{'messages/txn':>12} " + " ".join(f"{case:>18}" for case in CASES))
    for size, median in rows:
        base = median[CASES[0]]
        cells = [f"{median[c] * 1000:>9.2f} ({median[c] / base:4.2f}x)" for c in CASES]
        print(f"{size:>12} " + " ".join(f"{cell:>18}" for cell in cells))


if __name__ == "__main__":
    main()
