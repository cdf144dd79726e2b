"""Gateway ingest and router delivery with 1, 2 and 4 gateway processes on PostgreSQL, beside SQLite.

Run by hand: `python bench/bench_scaleout.py [--seconds 10]`. Needs PostgreSQL on 127.0.0.1:5432
(trust auth, user postgres), as on the project's machines. Every gateway, the load generators
and PostgreSQL share this machine's cores, so the curve shows contention, not a cluster.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"
ADMIN = os.environ.get("TRACKWELL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
KEY = "bench-key"
EVENTS_PER_BATCH = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def batch_body() -> list[dict[str, object]]:
    """100 plan-valid events of ~600 bytes with random UUIDv4 ids, as Segment clients send."""
    return [
        {
            "type": "track",
            "userId": f"user-{i % 97}",
            "event": "Subscription Started",
            "messageId": str(uuid.uuid4()),
            "timestamp": "2026-11-29T10:00:00.000Z",
            "properties": {
                "plan_name": "pro", "plan_price_cents": 19900, "billing_period": "monthly",
                "trial_converted": True, "referral_source": "partner-acme", "team_size": 12,
            },
            "context": {"library": {"name": "analytics-python", "version": "2.3.2"}, "ip": "203.0.113.9",
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"},
        }
        for i in range(EVENTS_PER_BATCH)
    ]  # fmt: skip


def load(
    ports: list[int], seconds: float, worker: int, results: multiprocessing.Queue[int]
) -> None:
    """Post batches round-robin until time is up; report accepted events."""
    sent = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=30) as client:
        n = worker
        while time.monotonic() < deadline:
            port = ports[n % len(ports)]
            n += 1
            response = client.post(
                f"http://127.0.0.1:{port}/v1/batch", json={"batch": batch_body()}, auth=(KEY, "")
            )
            if response.status_code == 200:
                sent += EVENTS_PER_BATCH
    results.put(sent)


def start_gateways(
    count: int, store: str, folder: Path
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    ports = [free_port() for _ in range(count)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trackwell",
                "serve",
                "--no-router",
                "--store",
                store,
                "--plan",
                str(PLAN),
                "--port",
                str(port),
                "--write-key",
                KEY,
                "--no-watch-plan",
                "--log-level",
                "warning",
                "--high-water",
                "100000000",
            ],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    for port in ports:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
    return procs, ports


def measure(count: int, store: str, seconds: float, folder: Path, clients: int) -> float:
    procs, ports = start_gateways(count, store, folder)
    try:
        results: multiprocessing.Queue[int] = multiprocessing.Queue()
        workers = [
            multiprocessing.Process(target=load, args=(ports, seconds, w, results))
            for w in range(clients)
        ]
        start = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - start
        return sum(results.get() for _ in workers) / elapsed
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)


def postgres_url() -> str:
    name = f"trackwell_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{ADMIN.rsplit('/', 1)[0]}/{name}"


def drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="trackwell-scaleout-"))
    rows = []
    sqlite = measure(1, f"sqlite:///{folder / 'bench.db'}", args.seconds, folder, args.clients)
    rows.append(("SQLite, 1 gateway", sqlite))
    for count in (1, 2, 4):
        url = postgres_url()
        try:
            rows.append(
                (
                    f"PostgreSQL, {count} gateway(s)",
                    measure(count, url, args.seconds, folder, args.clients),
                )
            )
        finally:
            drop(url)
    print(
        f"{'setup':<28} {'events/s':>10}  (plan-checked, durable, /v1/batch of 100, random UUIDv4 ids)"
    )
    for label, rate in rows:
        print(f"{label:<28} {rate:10,.0f}")
    print(
        "\nOutside reference: RudderStack publishes 2,500-3,000 events/s per node with PostgreSQL."
    )
    print(
        f"{os.cpu_count()} cores shared by the gateways, {args.clients} load generators and PostgreSQL."
    )


if __name__ == "__main__":
    main()
