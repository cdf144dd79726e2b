"""A real server and Debian's Chromium for the browser tests (the approach of tests/server/test_browser.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, offline: no first-run, sync, component or network side traffic.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def _apt_install() -> str | None:
    """Install Debian's chromium; the reason when it cannot be done here."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root or no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    for step in ([install], [["apt-get", "update"], install]):
        results = [
            subprocess.run(c, env=env, capture_output=True, text=True, timeout=900) for c in step
        ]
        if results[-1].returncode == 0 and Path(CHROMIUM).exists():
            return None
    error = results[-1].stderr.strip()
    return error.splitlines()[-1] if error else "apt-get failed"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (never a browser download)."""
    pytest.importorskip("playwright.sync_api", reason="playwright (a dev extra) is not installed")
    if not Path(CHROMIUM).exists():
        reason = _apt_install()
        if reason is not None:
            pytest.skip(
                f"Debian's chromium is not installed and cannot be installed here ({reason})"
            )
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app on uvicorn in a thread, on a free loopback port; yields its URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
