"""Gateway throughput: /v1/batch (100 events of ~600 bytes, random UUIDv4 ids, plan-checked, durable)
beside a bare Starlette JSON endpoint (the HTTP ceiling) and raw SQLite appends (the storage ceiling).

Run by hand: `python bench/bench_gateway.py [--seconds 8] [--connections 8]`. The two cores are
split: the server under test is pinned to core 0 (its event loop, the writer thread and SQLite
share it), the load generator to core 1. Prints one table; compare rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"
KEY = "tw_bench_key"
EVENTS_PER_REQUEST = 100
# People the events belong to: a busy product's day, several events per person.
USERS = 20_000
SERVER_CORE, LOAD_CORE = 0, 1

BARE_APP = """
import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def batch(request):
    document = orjson.loads(await request.body())
    return Response(orjson.dumps({"accepted": len(document["batch"])}), media_type="application/json")

app = Starlette(routes=[Route("/v1/batch", batch, methods=["POST"])])
"""


def event(rng: random.Random) -> dict[str, Any]:
    """A Subscription Started of about 600 bytes, as a Segment library sends it."""
    return {
        "type": "track",
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "userId": f"user-{rng.randrange(USERS):06d}",
        "event": "Subscription Started",
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {
            "plan_name": rng.choice(["starter", "pro", "enterprise"]),
            "plan_price_cents": rng.choice([2900, 9900, 49900]),
            "billing_period": rng.choice(["monthly", "annual"]),
            "trial_converted": rng.random() < 0.5,
            "referral_source": "partner-directory",
            "team_size": rng.randint(1, 80),
        },
        "context": {
            "library": {"name": "analytics-python", "version": "2.3.4"},
            "ip": "203.0.113.42",
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1",
            "page": {
                "path": "/billing/checkout",
                "url": "https://app.acme.example/billing/checkout",
            },
        },
    }


def bodies(count: int, seed: int = 1) -> list[bytes]:
    """Request bodies made before the clock starts; every messageId is new."""
    rng = random.Random(seed)
    return [
        orjson.dumps({"batch": [event(rng) for _ in range(EVENTS_PER_REQUEST)]})
        for _ in range(count)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SHARED = [False]


def pinned() -> None:
    if not SHARED[0]:
        os.sched_setaffinity(0, {SERVER_CORE})


def start(command: list[str], cwd: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with (cwd / f"server-{port}.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=log, preexec_fn=pinned
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start: {(cwd / f'server-{port}.log').read_text()}")


async def _client(
    port: int, payloads: list[bytes], deadline: float, counts: list[int], auth: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = 0
    try:
        while time.perf_counter() < deadline and index < len(payloads):
            body = payloads[index]
            index += 1
            writer.write(
                b"POST /v1/batch HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                + auth
                + b"Content-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            if status != 200:
                raise SystemExit(f"status {status}")
            counts[0] += 1
    finally:
        writer.close()


def load(
    port: int, payloads: list[bytes], seconds: float, connections: int, auth: bytes = b""
) -> float:
    """Requests per second over `seconds`, from `connections` keep-alive connections."""
    if not SHARED[0]:
        os.sched_setaffinity(0, {LOAD_CORE})
    share = len(payloads) // connections
    counts = [0]

    async def run() -> float:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(
            _client(port, payloads[i * share : (i + 1) * share], deadline, counts, auth) for i in range(connections)
        ))  # fmt: skip
        return counts[0] / (time.perf_counter() - started)

    return asyncio.run(run())


def sqlite_rows_per_second(folder: Path, rows: int, *, unique_random: bool) -> float:
    """Appends of 600-byte rows, 1,000 per transaction, WAL, synchronous=FULL (as the store)."""
    os.sched_setaffinity(0, {SERVER_CORE})
    conn = sqlite3.connect(folder / f"raw-{unique_random}.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    index = "UNIQUE" if unique_random else ""
    conn.execute(f"CREATE TABLE log (seq INTEGER PRIMARY KEY, message_id TEXT {index}, body BLOB)")
    body = orjson.dumps(event(random.Random(3)))
    rng = random.Random(4)
    started = time.perf_counter()
    for start in range(0, rows, 1000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO log (seq, message_id, body) VALUES (?, ?, ?)",
            [
                (start + i + 1, str(uuid.UUID(int=rng.getrandbits(128), version=4)), body)
                for i in range(1000)
            ],
        )
        conn.execute("COMMIT")
    rate = rows / (time.perf_counter() - started)
    conn.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    parser.add_argument(
        "--share-cores",
        action="store_true",
        help="no pinning: server and load generator share both cores",
    )
    parser.add_argument(
        "--synchronous",
        choices=["full", "normal"],
        default="full",
        help="the gateway store's SQLite synchronous mode (full, the default: fsync per commit)",
    )
    args = parser.parse_args()
    if args.share_cores:
        SHARED[0] = True
    if os.cpu_count() is None or os.cpu_count() < 2:  # type: ignore[operator]
        raise SystemExit("needs two cores: one for the server, one for the load generator")
    payloads = bodies(int(args.seconds * 1200) + 200)
    sample = orjson.loads(payloads[0])["batch"][0]
    event_bytes = len(orjson.dumps(sample))
    with tempfile.TemporaryDirectory(prefix="trackwell-bench-") as tmp:
        folder = Path(tmp)
        port = free_port()
        gateway = start(
            [sys.executable, "-m", "trackwell", "serve", "--plan", str(PLAN), "--store", f"sqlite:///{folder / 'gw.db'}{'' if args.synchronous == 'full' else '?synchronous=normal'}",
             "--write-key", KEY, "--port", str(port), "--no-watch-plan", "--workers", str(args.workers)],
            folder, port)  # fmt: skip
        import base64

        auth = b"Authorization: Basic " + base64.b64encode(f"{KEY}:".encode()) + b"\r\n"
        try:
            load(
                port, payloads[:100], 1.0, args.connections, auth
            )  # warm-up (ids not reused later)
            gateway_rps = load(port, payloads[100:], args.seconds, args.connections, auth)
        finally:
            gateway.terminate()
            gateway.wait(30)
        (folder / "bare.py").write_text(BARE_APP)
        port = free_port()
        bare = start([sys.executable, "-m", "uvicorn", "bare:app", "--port", str(port), "--log-level", "warning",
                      "--http", "httptools", "--loop", "uvloop", "--no-access-log"], folder, port)  # fmt: skip
        try:
            load(port, payloads[:100], 1.0, args.connections)
            bare_rps = load(port, payloads[100:], args.seconds, args.connections)
        finally:
            bare.terminate()
            bare.wait(30)
        ordered = sqlite_rows_per_second(folder, 300_000, unique_random=False)
        naive = sqlite_rows_per_second(folder, 300_000, unique_random=True)
    gateway_eps, bare_eps = gateway_rps * EVENTS_PER_REQUEST, bare_rps * EVENTS_PER_REQUEST
    print(f"/v1/batch: {EVENTS_PER_REQUEST} events of {event_bytes} bytes per request, random UUIDv4 messageIds;"
          f" {args.connections} keep-alive connections for {args.seconds:.0f} s")  # fmt: skip
    if args.share_cores:
        cores = (
            f"not pinned: {args.workers} gateway worker(s) and the load generator share both cores"
        )
    else:
        cores = (
            f"gateway ({args.workers} worker(s): event loop, writer thread, SQLite) on core {SERVER_CORE},"
            f" load generator on core {LOAD_CORE}; the SQLite rows below also on core {SERVER_CORE}"
        )
    print(f"cores: {cores}; gateway store synchronous={args.synchronous.upper()}\n")
    print(f"{'what':62} {'requests/s':>11} {'events/s':>10}")
    print(
        f"{'trackwell gateway (plan-checked, durable in SQLite)':62} {gateway_rps:11,.0f} {gateway_eps:10,.0f}"
    )
    print(f"{'bare Starlette endpoint (orjson parse only)':62} {bare_rps:11,.0f} {bare_eps:10,.0f}")
    print(f"{'raw SQLite appends, time-ordered key (rows/s)':62} {'':>11} {ordered:10,.0f}")
    print(
        f"{'raw SQLite appends + UNIQUE index on random UUIDs (rows/s)':62} {'':>11} {naive:10,.0f}"
    )
    print(f"\ngateway / bare HTTP ceiling: {gateway_eps / bare_eps:.2f}   gateway / SQLite ceiling: {gateway_eps / ordered:.2f}"
          f"   target 25,000 events/s: {'met' if gateway_eps >= 25_000 else 'not met'}")  # fmt: skip


if __name__ == "__main__":
    main()
