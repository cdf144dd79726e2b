"""Three gateways and three routers on one PostgreSQL; one of each is SIGKILLed mid-run.

The ledger must hold: every acknowledged message stored exactly once, delivered to the fake
destination, in order per person, and never delivered twice except as a re-send of the same id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import EXAMPLE_PLAN
from tests.fakes.webhook import FakeWebhook
from tests.postgres import fresh_schema_url, postgres_database

__all__ = ["postgres_database"]

WRITE_KEY = "scaleout-write-key"
USERS = 40
BATCHES = 150
PER_BATCH = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A trackwell command in its own process, with its output in a file."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trackwell", *args],
            cwd=cwd,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"gateway on {port} did not start")


@pytest.fixture
def cluster(tmp_path: Path, postgres_database: str) -> Iterator[dict[str, Any]]:
    url = fresh_schema_url(postgres_database)
    hook = FakeWebhook(secret="hook-secret").start()
    (tmp_path / "trackwell.toml").write_text(
        '[destinations.hook]\ntype = "webhook"\nbatch_size = 50\n'
    )
    env = {
        **os.environ,
        "TRACKWELL_HOOK_URL": f"{hook.url}/hooks/trackwell",
        "TRACKWELL_HOOK_SECRET": "hook-secret",
        "TRACKWELL_QUEUE_LEASE_MS": "2000",
        "TRACKWELL_PLAN": str(EXAMPLE_PLAN),
    }
    ports = [free_port() for _ in range(3)]
    gateways = [
        Process(
            [
                "serve",
                "--no-router",
                "--store",
                url,
                "--port",
                str(port),
                "--write-key",
                WRITE_KEY,
                "--no-watch-plan",
                "--log-level",
                "warning",
            ],
            tmp_path,
            env,
            tmp_path / f"gateway-{i}.log",
        )
        for i, port in enumerate(ports)
    ]
    for port in ports:
        wait_ready(port)
    routers = [
        Process(["route", "--store", url], tmp_path, env, tmp_path / f"router-{i}.log")
        for i in range(3)
    ]
    try:
        yield {"url": url, "ports": ports, "gateways": gateways, "routers": routers, "hook": hook}
    finally:
        for process in gateways + routers:
            process.stop()
        hook.stop()


def lease_owner_pid(url: str) -> int | None:
    conninfo, _, query = url.partition("?")
    schema = query.split("schema=", 1)[1]
    with psycopg.connect(conninfo, options=f"-c search_path={schema}") as conn:
        row = conn.execute("SELECT owner FROM destinations WHERE name = 'hook'").fetchone()
    if row is None or row[0] is None:
        return None
    return int(str(row[0]).split(":")[1])


def test_kill_a_gateway_and_a_router_mid_run(cluster: dict[str, Any]) -> None:
    ports: list[int] = cluster["ports"]
    alive = list(ports)
    acked: set[str] = set()
    order: dict[str, int] = defaultdict(int)
    killed: dict[str, int] = {}
    auth = (WRITE_KEY, "")
    with httpx.Client(timeout=10) as client:
        for number in range(BATCHES):
            batch = []
            for _ in range(PER_BATCH):
                user = f"user-{len(batch) * 7 % USERS}-{number % 2}"
                order[user] += 1
                batch.append(
                    {
                        "type": "track",
                        "userId": user,
                        "event": "Feature Used",
                        "properties": {"feature_name": "projects", "usage_count": order[user]},
                        "messageId": f"m-{number}-{len(batch)}",
                    }
                )
            if number == BATCHES // 3:
                cluster["gateways"][1].kill()
                alive.remove(ports[1])
                killed["gateway"] = ports[1]
            if number == BATCHES // 2:
                # The router holding the queue (routers start in parallel with the first
                # batches, and a slow start may not have claimed yet: wait for one that has).
                owner = None
                deadline = time.monotonic() + 30
                while owner is None and time.monotonic() < deadline:
                    owner = lease_owner_pid(cluster["url"])
                    time.sleep(0 if owner is not None else 0.1)
                if owner is not None:
                    os.kill(owner, signal.SIGKILL)
                    killed["router"] = owner
            # A client retries a failed request at another gateway, with the same ids.
            for attempt in range(len(ports)):
                port = alive[(number + attempt) % len(alive)]
                try:
                    response = client.post(
                        f"http://127.0.0.1:{port}/v1/batch", json={"batch": batch}, auth=auth
                    )
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    acked.update(m["messageId"] for m in batch)
                    break
    assert "gateway" in killed and "router" in killed, killed
    hook: FakeWebhook = cluster["hook"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        delivered = {str(m["messageId"]) for m in hook.messages}
        if acked <= delivered:
            break
        time.sleep(0.25)
    delivered_messages = list(hook.messages)
    delivered = {str(m["messageId"]) for m in delivered_messages}
    assert acked - delivered == set(), (
        f"{len(acked - delivered)} acknowledged messages never delivered"
    )
    assert len(acked) == BATCHES * PER_BATCH

    # Stored exactly once.
    conninfo, _, query = cluster["url"].partition("?")
    schema = query.split("schema=", 1)[1]
    with psycopg.connect(conninfo, options=f"-c search_path={schema}") as conn:
        rows = conn.execute("SELECT message_id, count(*) FROM log GROUP BY message_id").fetchall()
    counts = dict(rows)
    assert set(counts) == acked
    assert max(counts.values()) == 1

    # Per-person order: each person's first deliveries come in the order they were sent.
    seen: dict[str, list[int]] = defaultdict(list)
    for message in delivered_messages:
        seen[str(message["userId"])].append(int(message["properties"]["usage_count"]))
    for user, numbers in seen.items():
        assert numbers == sorted(numbers), f"{user} delivered out of order: {numbers[:20]}"
