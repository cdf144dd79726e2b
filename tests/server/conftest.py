"""Gateways for the server tests: in-process apps over httpx's ASGI transport, and a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from trackwell.core.outcomes import Outcome
from trackwell.destinations.base import Destination, Prepared
from trackwell.server.app import create_app
from trackwell.server.auth import hash_key
from trackwell.server.gateway import Gateway
from trackwell.server.settings import GatewaySettings
from trackwell.store.sqlite import SQLiteStore

from ..conftest import EXAMPLE_PLAN, ROOT

SERVER_KEY = "tw_test_backend_key"
BROWSER_KEY = "tw_test_browser_key"
OTHER_KEY = "tw_test_other_key"
QUICK_KEY = "tw_test_quick_key"
SOURCES = {
    "backend": {"key_hashes": [hash_key(SERVER_KEY)]},
    "web": {
        "key_hashes": [hash_key(BROWSER_KEY)],
        "types": ["page", "track"],
        "anonymous_only": True,
    },
    "billing": {"key_hashes": [hash_key(OTHER_KEY)], "types": ["track", "identify"]},
}
TRACK = {
    "type": "track",
    "userId": "user-1",
    "event": "Account Created",
    "properties": {"plan": "free", "signup_source": "organic"},
    "timestamp": "2026-01-05T10:00:00Z",
}


class Recording(Destination):
    """A destination that takes everything and remembers it (no HTTP)."""

    kind = "recording"

    def __init__(self, name: str = "recording") -> None:
        super().__init__(name)
        self.received: list[dict[str, Any]] = []

    def build(self, messages: Sequence[Any]) -> Prepared:
        return Prepared()

    def deliver(self, messages: Sequence[Any]) -> list[Outcome]:
        self.received.extend(messages)
        return [Outcome("delivered")] * len(messages)


@dataclass
class Harness:
    """An app, its gateway and a client."""

    gateway: Gateway
    client: httpx.AsyncClient
    store: SQLiteStore
    destinations: list[Recording] = field(default_factory=list)

    def stored(self) -> tuple[int, int]:
        """(log rows, blocked rows): what a refused request must leave unchanged."""
        return self.store.count(), self.store.count_blocked()


@asynccontextmanager
async def harness(tmp_path: Path, **options: Any) -> AsyncIterator[Harness]:
    """A started gateway on a fresh SQLite file, with the test sources and a quick-start key."""
    store = SQLiteStore(str(tmp_path / "gateway.db"))
    settings = GatewaySettings(
        plan=options.pop("plan", EXAMPLE_PLAN),
        store=store,
        sources=options.pop("sources", SOURCES),
        write_key=QUICK_KEY,
        plan_watch_seconds=options.pop("plan_watch_seconds", None),
        access_log=False,
        **options,
    )
    gateway = Gateway(settings)
    app = create_app(gateway)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
        ):
            yield Harness(gateway, client, store, list(settings.destinations))  # type: ignore[arg-type]
    finally:
        store.close()


# -- a real `trackwell serve` process ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running gateway process."""

    url: str
    process: subprocess.Popen[bytes]
    store: str
    folder: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def logs(self) -> str:
        return (self.folder / "serve.err").read_text(errors="replace")


def start_gateway(
    folder: Path, *args: str, scheme: str = "http", env: dict[str, str] | None = None
) -> Served:
    """`trackwell serve` in `folder` on a free port, once /healthz answers."""
    port = free_port()
    store = f"sqlite:///{folder / 'gateway.db'}"
    command = [
        sys.executable, "-m", "trackwell", "serve", "--port", str(port), "--store", store,
        "--write-key", QUICK_KEY, *args,
    ]  # fmt: skip
    if "--plan" not in args:
        command += ["--plan", str(EXAMPLE_PLAN)]
    environment = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT / "src")}
    with (folder / "serve.out").open("wb") as out, (folder / "serve.err").open("wb") as err:
        process = subprocess.Popen(command, cwd=folder, env=environment, stdout=out, stderr=err)
    url = f"{scheme}://127.0.0.1:{port}"
    served = Served(url, process, store, folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"trackwell serve exited {process.returncode}: {served.logs()}")
        try:
            if httpx.get(f"{url}/healthz", verify=False, timeout=1).status_code == 200:
                return served
        except httpx.HTTPError:
            time.sleep(0.1)
    served.stop(signal.SIGKILL)
    raise AssertionError(f"trackwell serve did not answer: {served.logs()}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A gateway process on the example plan; stopped (SIGTERM) after the test."""
    gateway = start_gateway(tmp_path)
    try:
        yield gateway
    finally:
        if gateway.process.poll() is None:
            gateway.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
