"""How long `trackwell store check` takes: quick_check and integrity_check (`--full`) on one
SQLite store of a given size, written through `Store.write_batch` with realistic events.

Run by hand: `python bench/bench_store_check.py [--mb 200] [--rounds 3] [--folder DIR]`. Prints
the median seconds and MB/s of each check (the file cached by the write, as after a gateway
stops; a cold disk is slower), which is what `integrity.estimated_seconds` assumes.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_gateway import PLAN, event  # noqa: E402

from trackwell.pipeline.accept import prepare  # noqa: E402
from trackwell.plan import load_plan  # noqa: E402
from trackwell.quality.compiled import compile_plan  # noqa: E402
from trackwell.store.sqlite import SQLiteStore  # noqa: E402
from trackwell.store.sqlite.integrity import check_file  # noqa: E402

BATCH = 1000
MB = 1024 * 1024


def build(path: Path, megabytes: int) -> int:
    """Write batches of ~600-byte events until the file (checkpointed every ~40 MB of WAL) is
    `megabytes` large; its size."""
    rng = random.Random(7)
    compiled = compile_plan(load_plan(PLAN))
    store = SQLiteStore(str(path))
    try:
        while path.stat().st_size < megabytes * MB:
            now = datetime.now(UTC)
            store.write_batch(
                [prepare(compiled, event(rng), now, source="bench") for _ in range(BATCH)]
            )
    finally:
        store.close()  # a clean close: the WAL is checkpointed into the file
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-check-", dir=args.folder or ROOT / "bench"))
    try:
        db = folder / "store.db"
        size = build(db, args.mb)
        print(f"store of {size / MB:.0f} MB; median of {args.rounds} checks each")
        print(f"{'check':>16} {'seconds':>8} {'MB/s':>7}")
        for full in (False, True):
            seconds = []
            for _ in range(args.rounds):
                found = check_file(str(db), full=full)
                assert found.ok, found.problems
                seconds.append(found.seconds)
            median = statistics.median(seconds)
            name = "integrity_check" if full else "quick_check"
            print(f"{name:>16} {median:>8.2f} {size / MB / median:>7.0f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
