"""Start-up time of the command line and the SDK, side by side with an earlier commit.

Run by hand: `python bench/bench_startup.py` (from the repository, with trackwell's dependencies
installed). Each row is a fresh interpreter, timed from the outside: `trackwell --help`,
`import trackwell`, `import trackwell.cli` and `from trackwell import Client`. The earlier code
(`--before`, by default f396247, the last commit before imports were made lazy) is checked out
into a temporary git worktree and run with PYTHONPATH pointing at its `src`, interleaved with
this checkout's runs so both see the same machine load. Prints the median and 90th percentile
of `--runs` runs in milliseconds of wall time, the median CPU time (user + system) of the
process, which a busy machine inflates less than the wall time, and how many trackwell modules
each one loads.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "f396247"
WARMUP = 2  # the first runs of a checkout write its bytecode caches

# Each case is Python source run with `python -c`. The help is built as the console script
# builds it (`trackwell.cli:main`), so the command line of either checkout is timed, not
# whichever one the environment's `trackwell` script would import.
HELP = "import sys; sys.argv = ['trackwell', '--help']; from trackwell.cli import main; main()"
CASES: dict[str, str] = {
    "trackwell --help": HELP,
    "import trackwell": "import trackwell",
    "import trackwell.cli": "import trackwell.cli",
    "from trackwell import Client": "from trackwell import Client",
}
# Appended to a case to count what it loaded (printed on stderr when the interpreter exits,
# so `--help`'s SystemExit still reports).
COUNT = (
    "import atexit, sys; atexit.register(lambda: print(sum(1 for m in list(sys.modules)"
    " if m.split('.')[0] == 'trackwell'), file=sys.stderr))\n"
)


def environment(src: Path) -> dict[str, str]:
    """The environment that makes `import trackwell` find the checkout at `src`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    env.pop("PYTHONSTARTUP", None)
    return env


def once(code: str, src: Path) -> tuple[float, float]:
    """Wall and CPU seconds for one fresh interpreter to run `code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        env=environment(src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def modules(code: str, src: Path) -> int:
    """How many trackwell modules `code` leaves loaded."""
    done = subprocess.run(
        [sys.executable, "-c", COUNT + code],
        env=environment(src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    return int(done.stderr.strip().splitlines()[-1])


def summary(seconds: list[float]) -> tuple[float, float]:
    """Median and 90th percentile, in milliseconds."""
    p90 = statistics.quantiles(seconds, n=10)[-1] if len(seconds) > 1 else seconds[0]
    return statistics.median(seconds) * 1000, p90 * 1000


Times = dict[tuple[str, str], list[tuple[float, float]]]


def measure(sources: dict[str, Path], runs: int) -> Times:
    """Every case on every checkout, `runs` times each (wall, CPU), interleaved."""
    times: Times = {(case, label): [] for case in CASES for label in sources}
    for case, code in CASES.items():
        for src in sources.values():
            for _ in range(WARMUP):
                once(code, src)
        for _ in range(runs):
            for label, src in sources.items():
                times[case, label].append(once(code, src))
    return times


def report(sources: dict[str, Path], runs: int, times: Times) -> None:
    """The table: one row per case, before and now side by side."""
    before, now = sources
    print(f"{runs} runs each: wall ms (median / p90), CPU ms (median), trackwell modules loaded\n")
    print(f"| what | {before} | now | now / {before} (wall) |")
    print("| --- | --- | --- | --- |")
    for case, code in CASES.items():
        cells = []
        for label, src in sources.items():
            median, p90 = summary([wall for wall, _ in times[case, label]])
            cpu = statistics.median(cpu for _, cpu in times[case, label]) * 1000
            cells.append(
                f"{median:.0f} / {p90:.0f} ms, CPU {cpu:.0f} ms, {modules(code, src)} modules"
            )
        ratio = statistics.median(w for w, _ in times[case, now]) / statistics.median(
            w for w, _ in times[case, before]
        )
        print(f"| `{case}` | {cells[0]} | {cells[1]} | {ratio:.2f} |")
    empty = [once("pass", sources[now]) for _ in range(runs)]
    wall, p90 = summary([w for w, _ in empty])
    cpu = statistics.median(c for _, c in empty) * 1000
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nAn empty interpreter (`python -c pass`): {wall:.0f} / {p90:.0f} ms, CPU {cpu:.0f} ms."
    )
    print(f"Load average at the end: {load} on {os.cpu_count()} CPUs.")


def main() -> None:
    """Check out the earlier commit, time both, print the table, remove the checkout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per case and checkout")
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trackwell-before-") as parent:
        checkout = Path(parent) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(checkout), args.before],
            check=True,
            capture_output=True,
        )
        try:
            sources = {args.before: checkout / "src", "now": ROOT / "src"}
            report(sources, args.runs, measure(sources, args.runs))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkout)],
                check=False,
                capture_output=True,
            )


if __name__ == "__main__":
    main()
