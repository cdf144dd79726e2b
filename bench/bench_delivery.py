"""Delivered events/s to local fakes of Customer.io v2 batch and a Segment-compatible endpoint,
beside segment-analytics-python delivering the same events to the same fake; and end-to-end
latency (track() to the fake's acknowledgement) at a steady 1,000 events/s.

Run by hand from the repository: `python bench/bench_delivery.py [--events 20000]`. The fakes are
the test suite's (tests/fakes), on loopback; everything shares this machine's cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fakes live in tests/

from tests.fakes.customerio import FakeCustomerIO  # noqa: E402
from tests.fakes.segment import FakeSegment  # noqa: E402

from trackwell import Client  # noqa: E402
from trackwell.destinations import CustomerIO, SegmentCompatible  # noqa: E402

PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"
PROPS = {
    "plan_name": "pro",
    "plan_price_cents": 19900,
    "billing_period": "monthly",
    "trial_converted": True,
}


def wait_until(count: Any, target: int, timeout: float) -> float:
    """Seconds until count() reaches target (or the timeout)."""
    start = time.monotonic()
    while count() < target and time.monotonic() - start < timeout:
        time.sleep(0.01)
    return time.monotonic() - start


def trackwell_rate(folder: Path, destination: Any, count: Any, events: int) -> float:
    client = Client(
        plan=str(PLAN), store=f"sqlite:///{folder / 'delivery.db'}", destinations=[destination]
    )
    start = time.monotonic()
    for i in range(events):
        client.track(f"user-{i % 500}", "Subscription Started", PROPS, message_id=f"tw-{i}")
    client.flush(120)
    wait_until(count, events, 300)
    elapsed = time.monotonic() - start
    client.close()
    return events / elapsed


def segment_rate(fake: FakeSegment, events: int) -> float:
    from segment.analytics import Client as SegmentClient

    client = SegmentClient(
        write_key="wk-1", host=fake.url, max_queue_size=events + 1, upload_size=100
    )
    start = time.monotonic()
    for i in range(events):
        client.track(f"user-{i % 500}", "Subscription Started", PROPS, message_id=f"sg-{i}")
    client.flush()
    wait_until(lambda: len(fake.messages), events, 300)
    elapsed = time.monotonic() - start
    client.shutdown()
    return events / elapsed


def latency_at(folder: Path, rate: int, seconds: int) -> list[float]:
    """Seconds from track() returning to the fake accepting, for each message, at a steady rate."""
    fake = FakeCustomerIO().start()
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    original = fake.handle

    def handle(request: Any) -> Any:
        reply = original(request)
        now = time.monotonic()
        for event in fake.events:
            key = str(event.get("name", "")) + str(event.get("id", ""))
            seen.setdefault(key, now)
        return reply

    fake.handle = handle  # type: ignore[method-assign]
    destination = CustomerIO(
        "cio", site_id="site-1", api_key="key-1", base_url=fake.url, batch_size=100
    )
    client = Client(
        plan=str(PLAN),
        store=f"sqlite:///{folder / 'latency.db'}",
        destinations=[destination],
        flush_interval=0.05,
    )
    total = rate * seconds
    start = time.monotonic()
    for i in range(total):
        due = start + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        client.track(f"user-{i % 500}", "Subscription Started", PROPS, message_id=f"lat-{i}")
        sent[f"lat-{i}"] = time.monotonic()
    client.flush(60)
    wait_until(lambda: len(fake.events), total, 120)
    client.close()
    fake.stop()
    # Customer.io ids are ULIDs derived from messageIds: map back through the order of arrival.
    arrivals = sorted(seen.values())
    departures = sorted(sent.values())
    return [a - d for a, d in zip(arrivals, departures, strict=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--latency-seconds", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="trackwell-delivery-"))
    rows = []
    with FakeCustomerIO() as cio:
        destination = CustomerIO(
            "cio", site_id="site-1", api_key="key-1", base_url=cio.url, batch_size=100
        )
        rows.append(
            (
                "trackwell -> Customer.io v2 batch (fake)",
                trackwell_rate(folder / "a", destination, lambda: len(cio.events), args.events),
            )
        )
    with FakeSegment() as segment:
        destination = SegmentCompatible(
            "seg", write_key="wk-1", base_url=segment.url, batch_size=100
        )
        rows.append(
            (
                "trackwell -> Segment-compatible /v1/batch (fake)",
                trackwell_rate(
                    folder / "b", destination, lambda: len(segment.messages), args.events
                ),
            )
        )
    with FakeSegment() as segment:
        rows.append(
            (
                "segment-analytics-python -> /v1/batch (same fake)",
                segment_rate(segment, args.events),
            )
        )
    print(f"{'delivery of ' + format(args.events, ',') + ' events':<52} {'events/s':>10}")
    for label, rate in rows:
        print(f"{label:<52} {rate:10,.0f}")
    print(
        f"\ntrackwell (Segment-compatible) / segment-analytics-python: {rows[1][1] / rows[2][1]:.2f}"
    )
    lags = latency_at(folder / "c", 1000, args.latency_seconds)
    lags.sort()
    p50 = statistics.median(lags)
    p95 = lags[int(len(lags) * 0.95) - 1]
    print(
        f"\nend-to-end at 1,000 events/s for {args.latency_seconds}s: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
