"""Soak: the gateway under steady load at half its measured capacity, with faults injected.

Run by hand: `python bench/bench_soak.py [--minutes 10] [--fault-every 60]`. A `trackwell serve
--no-router` gateway and a `trackwell route` router over one SQLite file deliver to a fake
webhook tool in this process. First the gateway's capacity is measured (~10 s of as much load
as it takes); then paced clients send at half of it for `--minutes`, retrying an unanswered
batch with the same ids, while a fault is injected every `--fault-every` seconds, in turn: the
tool answers 500s for 15 s, the tool hangs (read timeouts) for 15 s, the router is SIGKILLed
(and restarted 2 s later), the gateway is SIGKILLed and restarted. It prints throughput,
acknowledgement latency (p50/p95/p99), delivery lag, the processes' memory over time and the
ledger check (every acknowledged message stored once, delivered, in order per person).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.server import Received, Reply  # noqa: E402
from tests.fakes.webhook import FakeWebhook  # noqa: E402

PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"
KEY = "soak-write-key"
SECRET = "soak-hook-secret"
PER_BATCH = 50
PEOPLE = 200


class Tool(FakeWebhook):
    """The webhook fake, noting when each id first arrived."""

    def __init__(self) -> None:
        super().__init__(secret=SECRET)
        self.arrived: dict[str, float] = {}

    def handle(self, request: Received) -> Reply:
        before = len(self.messages)
        reply = super().handle(request)
        now = time.time()
        for message in self.messages[before:]:
            self.arrived.setdefault(str(message["messageId"]), now)
        return reply


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class Cluster:
    """The gateway and router processes, restartable."""

    def __init__(self, folder: Path, tool: Tool) -> None:
        self.folder = folder
        self.db = folder / "soak.db"
        self.store = f"sqlite:///{self.db}"
        (folder / "trackwell.toml").write_text(
            '[destinations.tool]\ntype = "webhook"\nbatch_size = 500\ntimeout = 2.0\n'
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "TRACKWELL_TOOL_URL": f"{tool.url}{tool.path}",
            "TRACKWELL_TOOL_SECRET": SECRET,
            "TRACKWELL_PLAN": str(PLAN),
            "TRACKWELL_QUEUE_LEASE_MS": "2000",
        }
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gateway: subprocess.Popen[bytes] | None = None
        self.router: subprocess.Popen[bytes] | None = None
        self.incarnations: list[tuple[str, int, float]] = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "trackwell", *args],
            cwd=self.folder,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.incarnations.append((name, proc.pid, time.time()))
        return proc

    def start_gateway(self) -> None:
        self.gateway = self._spawn(
            "gateway",
            ["serve", "--no-router", "--store", self.store, "--port", str(self.port),
             "--write-key", KEY, "--no-watch-plan", "--log-level", "warning"],
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("the gateway did not start; see gateway.log")

    def start_router(self) -> None:
        self.router = self._spawn("router", ["route", "--store", self.store])

    def kill(self, which: str) -> None:
        proc = self.gateway if which == "gateway" else self.router
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        for proc in (self.gateway, self.router):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


class Client(threading.Thread):
    """Sends batches at a fixed pace; retries an unanswered batch with the same ids."""

    def __init__(self, cluster: Cluster, number: int, every: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.number = number
        self.every = every
        self.stop = stop
        self.acked: list[tuple[float, list[str]]] = []  # (time, ids)
        self.latencies: list[tuple[float, float]] = []  # (time, seconds to a 200)
        self.retries = 0
        self.errors: list[str] = []
        self._next: dict[str, int] = defaultdict(int)
        self._turn = 0

    def batch(self) -> list[dict[str, Any]]:
        out = []
        for _ in range(PER_BATCH):
            person = f"c{self.number}-p{self._turn % (PEOPLE // 4)}"
            self._turn += 1
            n = self._next[person]
            self._next[person] += 1
            out.append(
                {"type": "track", "userId": person, "event": "Feature Used",
                 "messageId": f"{person}:{n}",
                 "properties": {"feature_name": "reports", "usage_count": n + 1},
                 "context": {"library": {"name": "soak", "version": "1"}}}
            )  # fmt: skip
        return out

    def run(self) -> None:
        with httpx.Client(auth=(KEY, ""), timeout=10) as http:
            due = time.monotonic()
            while not self.stop.is_set():
                batch = self.batch()
                body = orjson.dumps({"batch": batch})
                started = time.monotonic()
                while True:
                    try:
                        response = http.post(
                            f"{self.cluster.url}/v1/batch",
                            content=body,
                            headers={"Content-Type": "application/json"},
                        )
                        if response.status_code == 200:
                            break
                        if response.status_code not in (429, 503):
                            self.errors.append(f"HTTP {response.status_code}")
                            break
                    except httpx.HTTPError:
                        pass
                    self.retries += 1
                    time.sleep(0.1)
                now = time.time()
                self.latencies.append((now, time.monotonic() - started))
                self.acked.append((now, [m["messageId"] for m in batch]))
                due += self.every
                time.sleep(max(0.0, due - time.monotonic()))


def measure_capacity(cluster: Cluster, seconds: float, threads: int = 6) -> float:
    """Events a second the gateway acknowledges when pushed as hard as these threads can."""
    stop = threading.Event()
    counts = [0] * threads
    bodies = [
        orjson.dumps(
            {"batch": [
                {"type": "track", "userId": f"cap-{t}-{i % 50}", "event": "Feature Used",
                 "messageId": f"cap-{t}-{b}-{i}", "properties": {"feature_name": "reports"}}
                for i in range(100)
            ]}
        )
        for t in range(threads) for b in range(2000)
    ]  # fmt: skip

    def push(t: int) -> None:
        with httpx.Client(auth=(KEY, ""), timeout=30) as http:
            b = 0
            while not stop.is_set():
                response = http.post(
                    f"{cluster.url}/v1/batch",
                    content=bodies[t * 2000 + b % 2000],
                    headers={"Content-Type": "application/json"},
                )
                if response.status_code == 200:
                    counts[t] += 100
                b += 1

    workers = [threading.Thread(target=push, args=(t,), daemon=True) for t in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join(30)
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between faults")
    parser.add_argument("--capacity-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="trackwell-soak-"))
    tool = Tool().start()
    assert tool._httpd is not None  # a router killed mid-request resets its connection: no noise
    tool._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
    cluster = Cluster(folder, tool)
    cluster.start_gateway()
    print(f"folder {folder}", flush=True)
    capacity = measure_capacity(cluster, options.capacity_seconds)
    target = capacity / 2
    print(f"capacity {capacity:,.0f} events/s; steady load at {target:,.0f} events/s", flush=True)
    with sqlite3.connect(cluster.db) as conn:  # the capacity run's messages are not the soak's
        baseline_rows = conn.execute("SELECT count(*) FROM log").fetchone()[0]
    cluster.start_router()

    stop = threading.Event()
    every = PER_BATCH * options.clients / target
    clients = [Client(cluster, n, every, stop) for n in range(options.clients)]
    memory: list[tuple[float, str, int, float]] = []
    faults: list[tuple[float, str]] = []
    began = time.time()
    for client in clients:
        client.start()

    def five_hundreds() -> None:
        tool.fail_next(100_000, status=500)
        threading.Timer(15, lambda: tool._faults.clear()).start()

    def hang() -> None:
        tool.hang_next(100_000, seconds=5)
        threading.Timer(15, lambda: tool._faults.clear()).start()

    def kill_router() -> None:
        cluster.kill("router")
        threading.Timer(2, cluster.start_router).start()

    def kill_gateway() -> None:
        cluster.kill("gateway")
        cluster.start_gateway()

    schedule: list[tuple[str, Callable[[], None]]] = [
        ("tool answers 500s for 15 s", five_hundreds),
        ("tool hangs for 15 s", hang),
        ("router SIGKILL (+2 s restart)", kill_router),
        ("gateway SIGKILL + restart", kill_gateway),
    ]
    end = began + options.minutes * 60
    next_fault = began + options.fault_every / 2
    next_sample = began
    turn = 0
    while time.time() < end:
        now = time.time()
        if now >= next_sample:
            for name, proc in (("gateway", cluster.gateway), ("router", cluster.router)):
                if proc is not None and proc.poll() is None:
                    value = rss_mb(proc.pid)
                    if value is not None:
                        memory.append((now - began, name, proc.pid, value))
            next_sample += 5
        if now >= next_fault:
            name, inject = schedule[turn % len(schedule)]
            faults.append((now - began, name))
            print(f"{now - began:6.0f} s  fault: {name}", flush=True)
            inject()
            turn += 1
            next_fault += options.fault_every
        time.sleep(0.2)
    stop.set()
    for client in clients:
        client.join(60)
    finished = time.time()

    acked = {mid for c in clients for _, ids in c.acked for mid in ids}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not acked <= set(tool.arrived):
        time.sleep(0.5)
    drained = time.time() - finished
    cluster.stop()
    tool.stop()

    # -- the report ---------------------------------------------------------------------------
    minutes = max(1, round((finished - began) / 60))
    print(f"\n{len(acked):,} events acknowledged in {finished - began:.0f} s "
          f"({len(acked) / (finished - began):,.0f}/s, target {target:,.0f}/s); "
          f"retried batches {sum(c.retries for c in clients)}; client errors "
          f"{sum(len(c.errors) for c in clients)}")  # fmt: skip
    sent_at = {mid: at for c in clients for at, ids in c.acked for mid in ids}
    print(
        "\n| minute | events/s | ack p50 ms | ack p95 ms | ack p99 ms | lag p50 s | lag p95 s | lag max s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for minute in range(minutes):
        lo, hi = began + minute * 60, began + (minute + 1) * 60
        lat = [s for c in clients for at, s in c.latencies if lo <= at < hi]
        ids = [mid for mid, at in sent_at.items() if lo <= at < hi]
        lags = [tool.arrived[mid] - sent_at[mid] for mid in ids if mid in tool.arrived]
        span = min(hi, finished) - lo
        print(f"| {minute + 1} | {len(ids) / span:,.0f} | {pct(lat, 50) * 1000:.0f} | "
              f"{pct(lat, 95) * 1000:.0f} | {pct(lat, 99) * 1000:.0f} | {pct(lags, 50):.2f} | "
              f"{pct(lags, 95):.2f} | {max(lags, default=float('nan')):.2f} |")  # fmt: skip
    all_lat = [s for c in clients for _, s in c.latencies]
    all_lags = [tool.arrived[m] - sent_at[m] for m in sent_at if m in tool.arrived]
    print(f"\nwhole run: ack p50/p95/p99 {pct(all_lat, 50) * 1000:.0f}/{pct(all_lat, 95) * 1000:.0f}/"
          f"{pct(all_lat, 99) * 1000:.0f} ms; delivery lag p50/p95/p99 {pct(all_lags, 50):.2f}/"
          f"{pct(all_lags, 95):.2f}/{pct(all_lags, 99):.2f} s; all delivered {drained:.0f} s after the load stopped")  # fmt: skip
    print("faults: " + "; ".join(f"{at:.0f} s {name}" for at, name in faults))

    print("\nmemory (RSS MB) per process incarnation: first sample, at 1 min, last sample")
    by_pid: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for at, name, pid, value in memory:
        by_pid[(name, pid)].append((at, value))
    for (name, pid), samples in by_pid.items():
        at_minute = next((v for t, v in samples if t - samples[0][0] >= 60), samples[-1][1])
        print(f"  {name} pid {pid}: {samples[0][1]:.0f} -> {at_minute:.0f} -> {samples[-1][1]:.0f} "
              f"over {samples[-1][0] - samples[0][0]:.0f} s ({len(samples)} samples)")  # fmt: skip

    conn = sqlite3.connect(f"file:{cluster.db}?mode=ro", uri=True)
    counts = dict(
        conn.execute(
            "SELECT message_id, count(*) FROM log WHERE message_id NOT LIKE 'cap-%' GROUP BY message_id"
        ).fetchall()
    )
    conn.close()
    missing = acked - set(counts)
    twice = [m for m, n in counts.items() if n > 1]
    extra = set(counts) - acked
    undelivered = acked - set(tool.arrived)
    order_broken = 0
    seen: dict[str, list[int]] = defaultdict(list)
    with tool.lock:
        delivered = [str(m["messageId"]) for m in tool.messages]
    for mid in delivered:
        if mid.startswith("cap-"):
            continue
        person, n = mid.rsplit(":", 1)
        seen[person].append(int(n))
    order_broken = sum(1 for numbers in seen.values() if numbers != sorted(numbers))
    ok = not (missing or twice or extra or undelivered or order_broken)
    print(f"\nledger: {len(acked):,} acknowledged; not stored {len(missing)}; stored twice {len(twice)}; "
          f"stored but never acknowledged {len(extra)}; not delivered {len(undelivered)}; people out of "
          f"order {order_broken}; re-sends absorbed by the tool {tool.duplicates}; capacity-run rows "
          f"{baseline_rows:,} -> {'OK' if ok else 'FAILED'}")  # fmt: skip
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
