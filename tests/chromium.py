"""Debian's Chromium for the browser tests: installed by tests/setup_machine.py, never downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, offline: no first-run, sync, component or network side traffic.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, or skip with the reason (the tests install nothing)."""
    pytest.importorskip("playwright.sync_api", reason="playwright (a dev extra) is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM}"
            " (`python tests/setup_machine.py`, as root, installs it)"
        )
    return CHROMIUM
