"""What a Customer.io reporting webhook costs the gateway: one signed call at a time (Customer.io
holds later calls back until one is answered), each verified, resolved to its person and to the
message that triggered it, and committed before the answer.

Run by hand: `python bench/bench_reports.py [--messages 100000] [--reports 2000] [--url URL]`.
The store (a new SQLite file, or a PostgreSQL URL whose `?schema=` is made fresh) first gets
`--messages` ~600-byte events of 20,000 people; then `--reports` reports, each naming a person and
the ULID one of their events was sent to Customer.io under, are posted to `/webhooks/customerio`
of the gateway app (in process, over httpx's ASGI transport, so the figures are the app's and the
store's, not a network's). Printed: calls per second and the answer's latency (median, p99, max),
and how many reports were linked to their message.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_gateway import PLAN, event  # noqa: E402

from trackwell.core.ids import event_ulid  # noqa: E402
from trackwell.core.time import to_ms  # noqa: E402
from trackwell.pipeline.accept import prepare  # noqa: E402
from trackwell.plan import load_plan  # noqa: E402
from trackwell.quality.compiled import compile_plan  # noqa: E402
from trackwell.server.app import create_app  # noqa: E402
from trackwell.server.settings import GatewaySettings  # noqa: E402
from trackwell.server.webhook_keys import WebhookKeys  # noqa: E402
from trackwell.store import open_store  # noqa: E402

KEY = "bench-reporting-key"
BATCH = 1000
METRICS = ("sent", "delivered", "opened", "clicked")


def build(url: str, count: int) -> list[dict[str, Any]]:
    """`count` events written in batches; returns them as stored (for their ids and times)."""
    compiled = compile_plan(load_plan(PLAN))
    rng = random.Random(7)
    store = open_store(url)
    written: list[dict[str, Any]] = []
    try:
        for start in range(0, count, BATCH):
            messages = [event(rng) for _ in range(min(BATCH, count - start))]
            store.write_batch([prepare(compiled, m, datetime.now(UTC)) for m in messages])
            written += messages
    finally:
        store.close()
    return written


def signed(report: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and Customer.io's signature headers, signed now."""
    body = orjson.dumps(report)
    stamp = int(time.time())
    digest = hmac.new(KEY.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-CIO-Timestamp": str(stamp),
        "X-CIO-Signature": digest,
    }


def report_for(message: dict[str, Any], metric: str) -> dict[str, Any]:
    """The report Customer.io would send for a message a journey sent about this event."""
    trigger = event_ulid(message["messageId"], to_ms(datetime.fromisoformat(message["timestamp"])))
    return {
        "event_id": str(uuid.uuid4()),
        "object_type": "email",
        "metric": metric,
        "timestamp": int(time.time()),
        "data": {
            "customer_id": message["userId"],
            "identifiers": {"id": message["userId"]},
            "campaign_id": 12,
            "action_id": 3,
            "delivery_id": "dlv-" + message["messageId"][:12],
            "trigger_event_id": trigger,
        },
    }


async def post_all(url: str, reports: list[dict[str, Any]]) -> tuple[list[float], int]:
    """Post the reports one at a time; (latencies in seconds, reports linked)."""
    settings = GatewaySettings(
        plan=PLAN,
        store=url,
        router=False,
        access_log=False,
        plan_watch_seconds=None,
        webhook_keys=WebhookKeys(customerio=(KEY,)),
    )
    app = create_app(settings)
    latencies: list[float] = []
    linked = 0
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        for report in reports:
            body, headers = signed(report)
            started = time.perf_counter()
            answer = await client.post("/webhooks/customerio", content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise SystemExit(f"answered {answer.status_code}: {answer.text}")
            linked += answer.json()["linked"]
    return latencies, linked


def main() -> None:
    """Build the store, post the reports, print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=2_000)
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-", dir=ROOT / "bench"))
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if args.url is None:
        url = f"sqlite:///{folder / 'reports.db'}"
    else:
        url = f"{args.url}{'&' if '?' in args.url else '?'}schema={schema}"
    try:
        messages = build(url, args.messages)
        rng = random.Random(11)
        reports = [
            report_for(rng.choice(messages), rng.choice(METRICS)) for _ in range(args.reports)
        ]
        started = time.perf_counter()
        latencies, linked = asyncio.run(post_all(url, reports))
        seconds = time.perf_counter() - started
        ms = sorted(value * 1000 for value in latencies)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        print(
            f"{args.messages:,} messages stored; {len(reports):,} reports one call at a time:"
            f" {len(reports) / seconds:,.0f} calls/s; answer median {statistics.median(ms):.2f} ms,"
            f" p99 {p99:.2f} ms, max {ms[-1]:.2f} ms; linked {linked:,} of {len(reports):,}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if args.url is not None:
            import psycopg

            with psycopg.connect(args.url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
