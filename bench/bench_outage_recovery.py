"""Recovery after a tool's outage: how long new messages wait once it is healthy again.

Run by hand: `python bench/bench_outage_recovery.py [--outage 75] [--after 30] [--rate 60]`.
A router with its default settings (probes, backoff, resume window) delivers to a loopback webhook
fake over a real SQLite store; planned track calls are written at a steady rate (round-robin over
60 people, so each person's order matters). The fake answers 500 for `--outage` seconds, then 200.
Prints one table: requests the tool got while down, how long messages sent after the recovery
waited (p50, p95, max, from being stored to arriving), and how long the backlog of the outage
took to arrive after the recovery.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fakes and message helpers live in tests/

from tests.reliability.helpers import (  # noqa: E402
    HOOK_SECRET,
    TimedWebhook,
    percentile,
    track,
    wait_until,
)

from trackwell.destinations import Webhook  # noqa: E402
from trackwell.pipeline.accept import accept  # noqa: E402
from trackwell.pipeline.router import Router  # noqa: E402
from trackwell.plan import load_plan  # noqa: E402
from trackwell.quality import compile_plan  # noqa: E402
from trackwell.store import Store, open_store  # noqa: E402

PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"
PEOPLE = 60
FEED_EVERY = 0.1
DRAIN_TIMEOUT = 900.0


class Feeder:
    """Writes planned track calls at a steady rate and notes when each was stored."""

    def __init__(self, store: Store, router: Router, rate: int) -> None:
        self.store, self.router = store, router
        self.per_feed = max(1, round(rate * FEED_EVERY))
        self.compiled = compile_plan(load_plan(PLAN))
        self.written: dict[str, float] = {}
        self._turn = 0
        self._next: dict[str, int] = {}

    def feed_for(self, seconds: float) -> list[str]:
        """Messages written for `seconds`; their ids."""
        ids: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = []
            for _ in range(self.per_feed):
                person = f"p{self._turn % PEOPLE}"
                self._turn += 1
                n = self._next.get(person, 0)
                self._next[person] = n + 1
                batch.append(track("bench", person, n))
            accept(self.store, self.compiled, batch)
            now = time.monotonic()
            for message in batch:
                self.written[message["messageId"]] = now
            ids += [m["messageId"] for m in batch]
            self.router.wake()
            time.sleep(FEED_EVERY)
        return ids


def run(outage: float, after: float, rate: int, folder: Path) -> dict[str, float]:
    """One outage and recovery; the figures of the table."""
    store = open_store(f"sqlite:///{folder / 'outage.db'}")
    fake = TimedWebhook().start()
    hook = Webhook("hook", url=fake.url + fake.path, secret=HOOK_SECRET, timeout=5.0)
    router = Router(store, [hook])
    router.start()
    feeder = Feeder(store, router, rate)
    try:
        feeder.feed_for(2.0)  # healthy: the tool takes everything
        if not wait_until(lambda: len(fake.ids()) == len(feeder.written), 30):
            raise SystemExit("the healthy tool did not get the first messages")
        with fake.lock:
            fake.fail_next(1_000_000, status=500)  # far more than it will get
            before = len(fake.requests)
        during = feeder.feed_for(outage)
        with fake.lock:
            fake._faults.clear()
            requests_during = len(fake.requests) - before
        recovered = time.monotonic()
        later = feeder.feed_for(after)
        everything = set(feeder.written)
        if not wait_until(lambda: everything <= set(fake.ids()), DRAIN_TIMEOUT, every=0.2):
            raise SystemExit(f"not everything arrived within {DRAIN_TIMEOUT:.0f} s")
        waits = [fake.arrived[i] - feeder.written[i] for i in later]
        return {
            "sent during the outage": len(during),
            "requests the tool got while down": requests_during,
            "after recovery: p50 wait (s)": percentile(waits, 50),
            "after recovery: p95 wait (s)": percentile(waits, 95),
            "after recovery: max wait (s)": max(waits),
            "backlog drained, s after recovery": max(fake.arrived[i] for i in during) - recovered,
        }
    finally:
        router.close()
        fake.stop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=75.0, help="seconds the tool answers 500")
    parser.add_argument("--after", type=float, default=30.0, help="seconds of traffic after it")
    parser.add_argument("--rate", type=int, default=60, help="messages written per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trackwell-outage-") as tmp:
        figures = run(args.outage, args.after, args.rate, Path(tmp))
    print(f"outage {args.outage:.0f} s, then {args.after:.0f} s of traffic; {args.rate} messages/s"
          f" over {PEOPLE} people; router defaults; webhook fake on loopback; SQLite\n")  # fmt: skip
    print(f"{'what':40} {'value':>10}")
    for name, value in figures.items():
        shown = f"{value:10,.0f}" if isinstance(value, int) else f"{value:10.2f}"
        print(f"{name:40} {shown}")


if __name__ == "__main__":
    main()
