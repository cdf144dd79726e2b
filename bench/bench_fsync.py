"""What fsync at each commit costs: `Store.write_batch` with synchronous=FULL (the default: a
commit is on disk before it is acknowledged) beside NORMAL (the opt-in `?synchronous=normal`).

Run by hand: `python bench/bench_fsync.py [--rounds 15] [--folder DIR]`. Both stores live in one
folder on the disk under test (default: a temporary folder beside this file, not tmpfs, where an
fsync costs nothing). Rounds alternate FULL and NORMAL so both see the same disk and neighbours;
each row is one group-commit size (the writer puts every request waiting into one transaction).
Prints the median milliseconds per transaction and per message, and the FULL/NORMAL ratio.
"""

from __future__ import annotations

import argparse
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

from trackwell.pipeline.accept import prepare  # noqa: E402
from trackwell.plan import load_plan  # noqa: E402
from trackwell.quality.compiled import compile_plan  # noqa: E402
from trackwell.store import Checked  # noqa: E402
from trackwell.store.sqlite import SQLiteStore  # noqa: E402

# Messages per transaction: one lone event, one request of a Segment library (100), and a busy
# gateway's group of ten such requests.
GROUP_SIZES = (1, 100, 1000)
MODES = ("FULL", "NORMAL")


def batches(rounds: int, size: int, seed: int) -> list[list[Checked]]:
    """Prepared (plan-checked, encoded) batches of ~600-byte events, every messageId new."""
    import random

    rng = random.Random(seed)
    compiled = compile_plan(load_plan(PLAN))
    now = datetime.now(UTC)
    return [
        [prepare(compiled, event(rng), now, source="bench") for _ in range(size)]
        for _ in range(rounds)
    ]


def run(folder: Path, rounds: int) -> list[tuple[int, dict[str, float]]]:
    """Median seconds per transaction for each group size and mode."""
    stores = {
        mode: SQLiteStore(str(folder / f"{mode.lower()}.db"), synchronous=mode) for mode in MODES
    }
    rows = []
    try:
        for size in GROUP_SIZES:
            work = {mode: batches(rounds, size, seed=size * 10 + i) for i, mode in enumerate(MODES)}
            times: dict[str, list[float]] = {mode: [] for mode in MODES}
            for n in range(rounds):
                order = MODES if n % 2 == 0 else MODES[::-1]
                for mode in order:
                    started = time.perf_counter()
                    stores[mode].write_batch(work[mode][n])
                    times[mode].append(time.perf_counter() - started)
            rows.append((size, {mode: statistics.median(times[mode]) for mode in MODES}))
    finally:
        for store in stores.values():
            store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-fsync-", dir=args.folder or ROOT / "bench"))
    try:
        rows = run(folder, args.rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"write_batch, median of {args.rounds} transactions per cell, ~600-byte events")
    print(f"{'messages/txn':>12} {'FULL ms':>9} {'NORMAL ms':>10} {'ratio':>6} {'FULL ms/msg':>12}")
    for size, median in rows:
        full, normal = median["FULL"] * 1000, median["NORMAL"] * 1000
        print(f"{size:>12} {full:>9.2f} {normal:>10.2f} {full / normal:>6.2f} {full / size:>12.3f}")


if __name__ == "__main__":
    main()
