"""The whole loop as a newcomer sees it after `make run`: `trackwell serve --demo` as a process,
its demo day delivered to the Customer.io stand-in, the reports back in the store, and the
person page's why panel in headless Chromium, for a person whose identify forgot `created_at`.

With TRACKWELL_UPDATE_DOCS_IMAGES=1 the screenshots are also written to docs/images/ for the
README (console-person.png, console-why.png)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.server.conftest import Served, start_gateway
from trackwell.store.sqlite import SQLiteStore

from ..conftest import ROOT
from .browser import CHROMIUM_ARGS, chromium

if TYPE_CHECKING:
    from playwright.sync_api import FloatRect, Page

__all__ = ["chromium"]  # the fixture, imported for pytest

TOKEN = "tw_test_demo_admin"
SCREENSHOTS = ROOT / ".cache" / "screenshots"
DOCS_IMAGES = ROOT / "docs" / "images"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A gateway in demo mode, once its demo day has been delivered and reported on."""
    folder = tmp_path_factory.mktemp("demo")
    served = start_gateway(folder, "--demo", env={"TRACKWELL_ADMIN_TOKEN": TOKEN})
    try:
        _wait_for_reports(served)
        yield served
    finally:
        served.stop()


def _store(served: Served) -> SQLiteStore:
    """The gateway's SQLite store, opened beside it."""
    return SQLiteStore(served.store[len("sqlite:///") :])


def _wait_for_reports(served: Served, timeout: float = 90) -> None:
    """Until the demo day is delivered and the stand-in's reports have stopped arriving."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        store = _store(served)
        try:
            counts = sum(c.reports for c in store.report_counts(0, int(time.time() * 1000) + 1))
            stats = {s.destination: s for s in store.delivery_stats(int(time.time() * 1000))}
        finally:
            store.close()
        delivered = stats.get("customerio")
        if delivered is not None and delivered.pending == 0 and counts > 0 and counts == last:
            return
        last = counts
        time.sleep(1)
    raise AssertionError(f"the demo's reports did not settle: {served.logs()[-2000:]}")


def _forgetful_person(served: Served) -> str:
    """A signed-up demo person whose identify lacked created_at (the stand-in's filter)."""
    store = _store(served)
    try:
        for entry in store.sample(limit=5000, type="track", name="Account Created"):
            user = entry.message.get("userId")
            profile = store.profile(user) if user else None
            if profile is not None and "created_at" not in profile.traits:
                return str(user)
    finally:
        store.close()
    raise AssertionError("no demo person without created_at")


def _shoot(page: Page, name: str, clip: FloatRect | None = None) -> Path:
    """A screenshot in .cache/screenshots/ (and docs/images/ when asked for)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    page.screenshot(path=str(target), clip=clip)
    if os.environ.get("TRACKWELL_UPDATE_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS_IMAGES / name)
    return target


def test_the_why_panel_shows_the_journeys_and_the_workflow_that_did_not_start(
    demo: Served, chromium: str
) -> None:
    from playwright.sync_api import sync_playwright

    person = _forgetful_person(demo)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=demo.url)
            page.goto("/people")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url("**/people")
            page.goto(f"/people/{person}?event=Account%20Created")
            panel = page.locator("#why")
            text = panel.inner_text()
            # trackwell's half: the trait the filtered workflow needs was missing on arrival.
            assert "created_at" in text and "workflows filtering on them skipped it" in text
            # Customer.io's half: what the event did start, reported back (a bounce here).
            assert "email sent" in text and "email bounced" in text
            box = panel.bounding_box()
            assert box is not None
            # The question, both findings and the event's own reports: the top of the panel.
            clip: FloatRect = {"x": 0, "y": box["y"] - 12, "width": 1280, "height": 470}
            assert _shoot(page, "console-why.png", clip).stat().st_size < 200_000
            # Everything about the person: the findings, then each message Customer.io sent.
            page.goto(f"/people/{person}")
            assert "email opened" in page.locator("#why").inner_text()
            assert "customerio" in page.locator("#timeline").inner_text()
            assert _shoot(page, "console-person.png").stat().st_size < 200_000
        finally:
            browser.close()
