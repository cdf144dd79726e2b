"""The SDK's caller cost and durable throughput, beside segment-analytics-python and customerio.

Run by hand: `python bench/bench_sdk.py [--burst 1000000]`. Everything runs on this machine in
one run: a local HTTP sink for segment-analytics-python's consumer, and a local TLS sink for the
customerio library (which only speaks HTTPS). Prints a table; quote medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trackwell

PLAN = Path(__file__).resolve().parent.parent / "examples" / "saas" / "tracking-plan.yaml"
PROPS = {
    "plan_name": "pro",
    "plan_price_cents": 19900,
    "billing_period": "monthly",
    "trial_converted": True,
}
RUNS = 5


class _Sink(BaseHTTPRequestHandler):
    """Answers every POST/PUT with 200 {} after reading the body."""

    def _ok(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = _ok  # noqa: N815 - the names http.server dispatches to
    do_PUT = _ok  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        return


def sink(tls_dir: Path | None = None) -> tuple[ThreadingHTTPServer, int]:
    """A local HTTP(S) server answering 200; returns it and its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    if tls_dir is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def self_signed(folder: Path) -> None:
    """A certificate for 127.0.0.1 made with the openssl command line."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip


def per_call_us(call: Callable[[int], object], n: int) -> list[float]:
    """Microseconds per call over RUNS runs of n calls each."""
    runs = []
    for run in range(RUNS):
        start = time.perf_counter()
        for i in range(n):
            call(run * n + i)
        runs.append((time.perf_counter() - start) / n * 1e6)
    return runs


def trackwell_client(folder: Path, **options: Any) -> trackwell.Client:
    return trackwell.Client(plan=str(PLAN), store=f"sqlite:///{folder / 'bench.db'}", **options)


def bench_trackwell(folder: Path, n: int) -> dict[str, Any]:
    client = trackwell_client(folder / "caller")
    runs = per_call_us(lambda i: client.track(f"user-{i % 5000}", "Subscription Started", PROPS), n)
    client.flush(120)
    client.close()
    # Sustained: a steady stream well inside the queue, measured until everything is durable.
    client = trackwell_client(folder / "sustained", max_queue_size=200_000)
    total = 100_000
    start = time.perf_counter()
    for i in range(total):
        client.track(f"user-{i % 5000}", "Subscription Started", PROPS)
    client.flush(300)
    rate = total / (time.perf_counter() - start)
    stored = client.store.count()
    client.close()
    return {"runs": runs, "rate": rate, "stored": stored, "sent": total}


BURST_SCRIPT = """
import json, resource, sys, time
import trackwell
plan, url, burst = sys.argv[1], sys.argv[2], int(sys.argv[3])

def peak_rss_mb():
    # This process's own high-water mark. ru_maxrss is not: on Linux a child started by
    # fork/vfork + exec inherits the parent's peak at the exec, so it reported the bench's.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

props = {"plan_name": "pro", "plan_price_cents": 19900, "billing_period": "monthly", "trial_converted": True}
client = trackwell.Client(plan=plan, store=url)
start = time.perf_counter()
for i in range(burst):
    client.track(f"user-{i % 20000}", "Subscription Started", props, message_id=f"burst-{i}")
accepted_at = time.perf_counter() - start
client.flush(1800)
elapsed = time.perf_counter() - start
print(json.dumps({"burst": burst, "stored": client.store.count(), "dropped": client.stats.dropped,
    "spilled": client.stats.spilled, "caller_seconds": accepted_at, "seconds": elapsed,
    "peak_rss_mb": peak_rss_mb(), "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
client.close()
"""


def bench_burst(folder: Path, burst: int) -> dict[str, Any]:
    """A burst in a fresh process, so its peak memory is the burst's own."""
    url = f"sqlite:///{folder / 'burst' / 'bench.db'}"
    result = subprocess.run(
        [sys.executable, "-c", BURST_SCRIPT, str(PLAN), url, str(burst)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def bench_segment(n: int, burst: int) -> dict[str, Any]:
    import logging

    from segment.analytics import Client as SegmentClient

    logging.getLogger("segment").setLevel(logging.CRITICAL)  # it logs every dropped message
    server, port = sink()
    client = SegmentClient(
        write_key="bench", host=f"http://127.0.0.1:{port}", max_queue_size=10_000
    )
    runs = per_call_us(lambda i: client.track(f"user-{i % 5000}", "Subscription Started", PROPS), n)
    client.flush()
    dropped = 0
    for i in range(burst):
        ok, _ = client.track(f"user-{i % 5000}", "Subscription Started", PROPS)
        dropped += not ok
    client.flush()
    client.shutdown()
    server.shutdown()
    return {"runs": runs, "dropped": dropped, "burst": burst}


def bench_customerio(folder: Path, n: int) -> dict[str, Any] | None:
    if shutil.which("openssl") is None:
        return None
    from customerio import CustomerIO

    self_signed(folder)
    server, port = sink(folder)
    os.environ["REQUESTS_CA_BUNDLE"] = str(folder / "cert.pem")
    client = CustomerIO("site", "key", host="127.0.0.1", port=port)
    runs = per_call_us(
        lambda i: client.track(
            customer_id=f"user-{i % 5000}", name="Subscription Started", data=PROPS
        ),
        n,
    )
    server.shutdown()
    return {"runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per timed run")
    parser.add_argument("--burst", type=int, default=1_000_000, help="events in the burst test")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="trackwell-bench-"))
    try:
        ours = bench_trackwell(folder, args.calls)
        burst = bench_burst(folder, args.burst)
        segment = bench_segment(args.calls, 50_000)
        cio = bench_customerio(folder, 500)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ours_median = statistics.median(ours["runs"])
    segment_median = statistics.median(segment["runs"])
    print(f"{'caller cost of one track()':<64} {'median µs':>10} {'min':>8} {'max':>8}")
    rows = [
        ("trackwell Client.track (plan check, writer thread running)", ours["runs"]),
        ("segment-analytics-python track (no validation, consumer running)", segment["runs"]),
    ]
    if cio is not None:
        rows.append(("customerio track (one synchronous HTTPS request, local TLS)", cio["runs"]))
    for label, runs in rows:
        print(f"{label:<64} {statistics.median(runs):10.1f} {min(runs):8.1f} {max(runs):8.1f}")
    print(f"\ntrackwell / segment caller cost: {ours_median / segment_median:.2f}")
    if cio is not None:
        print(
            f"customerio / trackwell caller cost: {statistics.median(cio['runs']) / ours_median:.0f}x"
        )
    print(
        f"\nsustained durable throughput into SQLite: {ours['rate']:,.0f} events/s ({ours['stored']:,} of {ours['sent']:,} stored)"
    )
    print(
        f"burst of {burst['burst']:,}: stored {burst['stored']:,}, dropped {burst['dropped']}, spilled {burst['spilled']:,}, "
        f"caller done in {burst['caller_seconds']:.1f}s, durable after {burst['seconds']:.1f}s, "
        f"peak RSS {burst['peak_rss_mb']:.0f} MB (VmHWM; getrusage would say {burst['ru_maxrss_mb']:.0f} MB,"
        " the bench's own peak inherited at exec)"
    )
    print(
        f"segment-analytics-python burst of {segment['burst']:,} (max_queue_size 10,000): dropped {segment['dropped']:,} "
        f"({segment['dropped'] / segment['burst']:.1%})"
    )


if __name__ == "__main__":
    main()
