"""Server time of every console page on a large store: 13 months of rollups and a 1M-row log.

Run by hand: `python bench/bench_console.py [--log-rows 1000000] [--keep DIR]`. The rollup tables
are filled directly (the example plan's 15 events, 3 sources, 3 destinations, 396 days, about
25,000 events a day: 10 million events counted), because writing that history message by message
would take hours; the newest `--log-rows` messages are written through `Store.write_batch`, with
100,000 people, anonymous histories, violations and blocked messages. Destinations are caught up
except for a few dead letters. Each page is requested in-process through httpx's ASGI transport
(server time, no network): one warm-up, then the median and worst of REPEATS. The quality page is
measured with its one-minute cache emptied before every request. `--keep DIR` reuses a store.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from trackwell.console import create_console, hash_token
from trackwell.console.context import Console
from trackwell.core.histogram import BOUNDS
from trackwell.pipeline.accept import prepare
from trackwell.plan import Plan, load_plan
from trackwell.quality import compile_plan
from trackwell.store import DeliveryResult
from trackwell.store.sqlite import SQLiteStore

PLAN = Path(__file__).resolve().parent.parent / "examples" / "saas" / "tracking-plan.yaml"
DAYS = 396  # 13 months
PER_DAY = 25_000
SOURCES = ("backend", "web", "billing")
DESTINATIONS = ("customerio", "mixpanel", "amplitude")
UNPLANNED = ("Acount Created", "Signup Completed", "feature_used")
CODES = ("unplanned_property", "missing_timestamp", "invalid_property", "sensitive_data")
PEOPLE = 100_000
BATCH = 5_000
REPEATS = 5
TOKEN = "tw_admin_bench"
DAY_MS = 86_400_000


def seed_rollups(path: Path, plan: Plan, today: int) -> int:
    """Day rows for DAYS (and hour rows for the last week) straight into the rollup tables."""
    rng = random.Random(3)
    names = list(plan.events)
    weights = {name: rng.uniform(0.2, 3.0) for name in names}
    quiet = set(names[-2:])  # two events last seen months ago: "last seen" has to look back
    scale = PER_DAY / sum(weights.values()) / len(SOURCES)
    latency = orjson.dumps([0, 0, 10, 60, 300, 400, 150, 50, 20, 5, 1] + [0] * (len(BOUNDS) - 11))
    conn = sqlite3.connect(path)
    counted = 0
    with conn:
        for day in range(today - DAYS + 1, today + 1):
            events, codes, deliveries = [], [], []
            for name in [*names, *UNPLANNED]:
                if name in quiet and day > today - 200:
                    continue
                base = int(weights.get(name, 0.01) * scale * rng.uniform(0.9, 1.1)) + 1
                planned = name in plan.events
                for source in SOURCES:
                    blocked = base if not planned else base // 200
                    repaired = base // 50 if planned else 0
                    row = (name, "track", base, base - blocked - repaired, repaired, blocked, 3, 9)
                    events.append((day, -1, source, *row))
                    counted += base
                    if day > today - 8:
                        for hour in range(24):
                            n = max(base // 24, 1)
                            events.append((day, hour, source, name, "track", n, n, 0, 0, 0, 0))
                    code = "unplanned_event" if not planned else CODES[hash(name) % len(CODES)]
                    codes.append((day, source, name, code, max(blocked, repaired, 1)))
                if planned:
                    for destination in DESTINATIONS:
                        deliveries.append(
                            (day, destination, name, base * 3, base // 100, base // 1000,
                             latency.decode(), latency.decode())
                        )  # fmt: skip
            conn.executemany(
                "INSERT OR REPLACE INTO rollup_events VALUES (?,?,?,?,?,?,?,?,?,?,?)", events
            )
            conn.executemany("INSERT OR REPLACE INTO rollup_codes VALUES (?,?,?,?,?)", codes)
            conn.executemany(
                "INSERT OR REPLACE INTO rollup_deliveries VALUES (?,?,?,?,?,?,?,?)", deliveries
            )
            conn.execute(
                "INSERT OR REPLACE INTO rollup_people VALUES (?,?,?,?)", (day, 400, 1200, 380)
            )
    conn.close()
    return counted


def messages(count: int, now: datetime, prefix: str = "m") -> list[dict[str, Any]]:
    """The newest `count` messages: identifies, lifecycle tracks, pages, and some mistakes."""
    rng = random.Random(11)
    out: list[dict[str, Any]] = []
    for n in range(count):
        person = rng.randrange(PEOPLE)
        at = now - timedelta(seconds=(count - n) * 2)
        base = {"timestamp": at.isoformat(), "messageId": f"{prefix}-{n}"}
        roll = rng.random()
        if roll < 0.08:
            out.append({**base, "type": "identify", "userId": f"user-{person}", "anonymousId": f"anon-{person}",
                        "traits": {"email": f"user-{person}@example.com", "created_at": 1700000000,
                                   "plan": rng.choice(["free", "starter", "pro"])}})  # fmt: skip
        elif roll < 0.25:
            out.append({**base, "type": "page", "anonymousId": f"anon-{person}", "name": "Pricing",
                        "properties": {"url": "https://acme.example/pricing"}})  # fmt: skip
        elif roll < 0.2505:
            out.append({**base, "type": "track", "userId": f"user-{person}", "event": "Acount Created",
                        "properties": {"plan": "free"}})  # fmt: skip
        elif roll < 0.251:
            out.append({**base, "type": "track", "userId": f"user-{person}", "event": "Payment Failed",
                        "properties": {"amount_cents": 900, "failure_reason": "card_declined",
                                       "attempt_number": 1, "note": "card 4111 1111 1111 1111"}})  # fmt: skip
        else:
            out.append({**base, "type": "track", "userId": f"user-{person}", "event": "Feature Used",
                        "properties": {"feature_name": rng.choice(["projects", "timeline", "reports"]),
                                       "usage_count": rng.randint(1, 40)}})  # fmt: skip
    return out


def build(folder: Path, log_rows: int) -> SQLiteStore:
    """A store with DAYS of rollups and `log_rows` messages, destinations caught up."""
    path = folder / "console-bench.db"
    fresh = not path.exists()
    store = SQLiteStore(str(path))
    if not fresh:
        return store
    plan = load_plan(PLAN)
    compiled = compile_plan(plan)
    now = datetime.now(UTC)
    today = int(now.timestamp() * 1000) // DAY_MS
    started = time.perf_counter()
    counted = seed_rollups(path, plan, today)
    print(f"rollups: {counted:,} events over {DAYS} days ({time.perf_counter() - started:.1f} s)")
    for destination in DESTINATIONS:
        store.register_destination(destination)
    started = time.perf_counter()
    items = messages(log_rows, now)
    for start in range(0, len(items), BATCH):
        checked = [prepare(compiled, m, now) for m in items[start : start + BATCH]]
        store.write_batch(checked)
    print(f"log: {store.count():,} rows written ({time.perf_counter() - started:.1f} s)")
    conn = sqlite3.connect(path)
    with conn:  # routers that kept up: every destination's cursor at the end of the log
        conn.execute("UPDATE destinations SET cursor = (SELECT max(seq) FROM log)")
    conn.close()
    tail = messages(300, now + timedelta(seconds=600), prefix="tail")
    store.write_batch([prepare(compiled, m, now) for m in tail])
    now_ms = int(time.time() * 1000)
    claimed = store.claim("customerio", 300, now_ms)
    results = [
        DeliveryResult(d.seq, "dead", error="HTTP 400: bad attribute")
        if i % 50 == 0
        else DeliveryResult(d.seq, "delivered")
        for i, d in enumerate(claimed)
    ]
    store.ack("customerio", results, now_ms)
    return store


async def measure(store: SQLiteStore, plan: Plan) -> list[tuple[str, float, float]]:
    """Median and worst server time of each page, in milliseconds."""
    app = create_console(store, lambda: plan, admin_token_hash=hash_token(TOKEN))
    console: Console = app.state.console
    person = next(p.key for p in console.reads.recent_people() if not p.anonymous)
    pages = [
        "/people", f"/people?q={person}@example.com", "/people?q=nobody%20at%20all",
        f"/people/{person}", "/events", "/events/Acount%20Created",
        "/events/Feature%20Used", "/events/Trial%20Ended", "/violations",
        "/violations?code=sensitive_data", "/destinations", "/quality", "/plan",
        "/api/events", "/api/violations", "/api/destinations",
    ]  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        form = await client.get("/login")
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        await client.post("/login", data={"token": TOKEN, "csrf": csrf})
        rows = []
        for path in pages:
            times = []
            for _ in range(REPEATS + 1):
                console.quality_cache._at = float("-inf")  # measure the evaluation, not the cache
                started = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code in (200, 303), (path, response.status_code)
            rows.append((path, statistics.median(times[1:]), max(times[1:])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build the store here (reused when present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        store = build(folder, args.log_rows)
        try:
            plan = load_plan(PLAN)
            conn = sqlite3.connect(folder / "console-bench.db")
            sizes = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("log", "blocked", "profiles", "rollup_events", "rollup_codes",
                              "rollup_deliveries", "deliveries")
            }  # fmt: skip
            counted = conn.execute("SELECT sum(received) FROM rollup_events WHERE hour = -1")
            total = counted.fetchone()[0]
            conn.close()
            print("store: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
            print(f"events counted by the rollups: {total:,}\n")
            rows = asyncio.run(measure(store, plan))
        finally:
            store.close()
    print(f"{'page':<36} {'median ms':>10} {'worst ms':>10}")
    for path, median, worst in rows:
        print(f"{path:<36} {median:>10.1f} {worst:>10.1f}")
    slowest = max(rows, key=lambda r: r[1])
    print(f"\nslowest page: {slowest[0]} at {slowest[1]:.1f} ms (median of {REPEATS})")


if __name__ == "__main__":
    main()
