"""One hostile client against a normal one: the normal client's latency with and without a
sender of batches of 2,000 distinct unplanned event names (~450 KB each, new names every batch).

Run by hand: `python bench/bench_stall.py [--seconds 10]`. Starts `trackwell serve` on the example
plan and a fresh SQLite file, times a normal client's single `track` calls alone, then while the
hostile client sends its batches back to back, and prints median and p95 of each phase.
Point PYTHONPATH at another tree's `src` to measure that code instead.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"
KEY = "tw_bench_key"
NAMES = 2000
TRACK = {
    "type": "track",
    "userId": "user-1",
    "event": "Account Created",
    "properties": {"plan": "free", "signup_source": "organic"},
    "timestamp": "2026-01-05T10:00:00Z",
}


def hostile_batch(round_: int) -> dict[str, Any]:
    """2,000 distinct unplanned names, new every round so no cache helps."""
    return {
        "batch": [
            {"type": "track", "userId": "u", "event": f"Acount Createdd {round_} {i} " + "x" * 120}
            for i in range(NAMES)
        ]
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable, "-m", "trackwell", "serve", "--port", str(port),
        "--store", f"sqlite:///{folder / 'bench.db'}", "--plan", str(PLAN),
        "--write-key", KEY, "--no-monitor",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("trackwell serve did not start")


def normal(url: str, seconds: float) -> list[float]:
    took: list[float] = []
    with httpx.Client(base_url=url, auth=(KEY, ""), timeout=120) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.post("/v1/track", json=TRACK).raise_for_status()
            took.append(time.perf_counter() - started)
            time.sleep(0.01)
    return took


def hostile(url: str, stop: threading.Event, batches: list[float]) -> None:
    with httpx.Client(base_url=url, auth=(KEY, ""), timeout=600) as client:
        round_ = 0
        while not stop.is_set():
            started = time.perf_counter()
            client.post("/v1/batch", json=hostile_batch(round_)).raise_for_status()
            batches.append(time.perf_counter() - started)
            round_ += 1


def line(label: str, took: list[float]) -> str:
    ms = sorted(t * 1000 for t in took)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{label:28s} n={len(ms):5d}  median {statistics.median(ms):9.1f} ms  p95 {p95:9.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        process, url = serve(Path(folder))
        try:
            normal(url, 1.0)  # warm up
            alone = normal(url, args.seconds)
            stop, batches = threading.Event(), list[float]()
            attacker = threading.Thread(target=hostile, args=(url, stop, batches))
            attacker.start()
            time.sleep(0.2)
            loaded = normal(url, args.seconds)
            stop.set()
            attacker.join()
        finally:
            process.terminate()
            process.wait(30)
    print(line("normal client alone", alone))
    print(line("normal client, hostile load", loaded))
    print(line("hostile batches (2,000)", batches))


if __name__ == "__main__":
    main()
