"""Debian's Chromium for the browser tests: installed with apt-get when missing, never downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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
