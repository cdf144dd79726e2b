"""The console in headless Chromium: log in, a merged timeline, a drawn chart, a live feed, a replay.

Screenshots of each page go to .cache/screenshots/ (gitignored). With
TRACKWELL_UPDATE_DOCS_IMAGES=1 the timeline and the catalog are also copied to docs/images/ for
the README.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from trackwell.console import create_console, hash_token
from trackwell.core.outcomes import Outcome
from trackwell.pipeline import accept
from trackwell.quality import compile_plan

from ..conftest import ROOT
from .browser import CHROMIUM_ARGS, chromium, serving
from .conftest import ADMIN_TOKEN, ANONYMOUS, CARD, DEAD_ID, PERSON, Seeded

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

__all__ = ["chromium"]  # the fixture, imported for pytest

SCREENSHOTS = ROOT / ".cache" / "screenshots"
DOCS_IMAGES = ROOT / "docs" / "images"
DOCS_SHOTS = {"timeline": "console-timeline.png", "catalog": "console-catalog.png"}
VIEWPORT: ViewportSize = {"width": 1280, "height": 860}
EXPECTED_TIMELINE = [
    "Subscription Cancelled",
    "Feature Used",
    "Account Created",
    "identify",
    "Page Viewed",
    "Pricing",
]


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def url(seeded: Seeded) -> Iterator[str]:
    """The console over the seeded store, served for real, with its router delivering."""
    app = create_console(
        seeded.store, lambda: seeded.plan, admin_token_hash=hash_token(ADMIN_TOKEN)
    )
    seeded.router.poll_interval = 0.05
    seeded.router.start()
    with serving(app) as served:
        yield served


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    """A fresh browser context, logged in through the form."""
    context = browser.new_context(viewport=VIEWPORT, base_url=url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda m: errors.append(m.text) if m.type == "error" else None
    )  # CSP violations land here
    page.goto("/people")
    assert "/login" in page.url  # no session yet
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/people")
    try:
        yield page
        assert errors == []
    finally:
        context.close()


def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    if name in DOCS_SHOTS and os.environ.get("TRACKWELL_UPDATE_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS_IMAGES / DOCS_SHOTS[name])


def canvas_ink(page: Page, selector: str) -> int:
    """How many pixels of the chart's canvas are painted."""
    ink: int = page.eval_on_selector(
        selector,
        """holder => {
            const canvas = holder.querySelector('canvas');
            if (!canvas) { return 0; }
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { painted++; } }
            return painted;
        }""",
    )
    return ink


def test_search_a_person_and_see_one_merged_timeline(page: Page) -> None:
    shoot(page, "people")
    page.fill("input[name=q]", "ada@example.com")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(f"**/people/{PERSON}")
    assert page.inner_text("h1") == PERSON
    entries = page.locator("ol.timeline > li.entry")
    labels = [entries.nth(i).get_attribute("data-label") for i in range(entries.count())]
    assert labels == EXPECTED_TIMELINE
    # The two oldest were sent before signup, under the cookie's anonymous id.
    assert ANONYMOUS in entries.nth(5).inner_text() and ANONYMOUS in entries.nth(4).inner_text()
    assert "user ada-lovelace" in entries.nth(3).inner_text()
    assert ANONYMOUS in page.inner_text("ul.ids")
    shoot(page, "timeline", full_page=True)


def test_the_timeline_updates_live(page: Page, seeded: Seeded) -> None:
    page.goto(f"/people/{PERSON}")
    accept(
        seeded.store,
        compile_plan(seeded.plan),
        [
            {
                "type": "track",
                "userId": PERSON,
                "event": "Invite Sent",
                "properties": {"invitee_role": "member", "invite_method": "email"},
            }
        ],
    )
    page.wait_for_selector("li.entry[data-label='Invite Sent']", timeout=10_000)
    assert page.locator("ol.timeline > li.entry").first.get_attribute("data-label") == "Invite Sent"


def test_an_event_page_draws_its_chart(page: Page) -> None:
    page.goto("/events")
    assert page.locator("table.catalog svg.spark polyline").count() == 15
    shoot(page, "catalog")
    page.click("text=Account Created")
    page.wait_for_url("**/events/Account%20Created")
    page.wait_for_selector("[data-chart='volume-chart'][data-drawn='true'] canvas")
    assert canvas_ink(page, "[data-chart='volume-chart']") > 500
    shoot(page, "event")


def test_a_sensitive_data_violation_appears_in_the_feed(page: Page, seeded: Seeded) -> None:
    page.goto("/violations")
    page.wait_for_selector("[data-chart='codes-chart'][data-drawn='true'] canvas")
    before = page.locator("tr.feed-row").count()
    accept(
        seeded.store,
        compile_plan(seeded.plan),
        [
            {
                "type": "track",
                "userId": "grace",
                "event": "Payment Failed",
                "properties": {
                    "amount_cents": 1900,
                    "failure_reason": "card_declined",
                    "attempt_number": 1,
                    "card": CARD,
                },
            }
        ],
        source="billing",
    )
    row = page.wait_for_selector(
        "tr.feed-row[data-codes*='sensitive_data']:has-text('Payment Failed')", timeout=10_000
    )
    assert row is not None
    assert "card_number" in row.inner_text() or "sensitive" in row.inner_text()
    assert page.locator("tr.feed-row").count() == before + 1
    assert CARD not in page.content() and CARD.replace(" ", "") not in page.content()
    shoot(page, "violations")


def test_replay_a_dead_letter_and_see_it_delivered(page: Page, seeded: Seeded) -> None:
    page.goto("/destinations")
    dead_cell = "tr[data-destination='customerio'] td.dead"
    assert page.inner_text(dead_cell) == "1"
    shoot(page, "destinations")
    seeded.destination.answer = lambda message: Outcome("delivered")  # the workspace was fixed
    page.click(f"tr[data-message-id='{DEAD_ID}'] a.replay")
    page.wait_for_url("**/replay?message_id=*")
    assert "Replay to customerio?" in page.inner_text("h1")
    shoot(page, "replay-confirm")
    page.click("button.danger")
    page.wait_for_url("**/destinations?replayed=1*")
    assert "1 dead letter of customerio" in page.inner_text(".flash")
    page.wait_for_function(
        f"document.querySelector(\"{dead_cell}\").textContent.trim() === '0'", timeout=10_000
    )
    deadline = time.monotonic() + 10
    while DEAD_ID not in seeded.destination.ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert DEAD_ID in seeded.destination.ids()
    page.goto(f"/people/{PERSON}")
    feature = page.locator("li.entry[data-label='Feature Used']")
    assert "customerio delivered" in " ".join(feature.inner_text().split())


def test_quality_and_plan_pages(page: Page) -> None:
    page.goto("/quality")
    page.wait_for_selector("[data-chart='parity-1'][data-drawn='true'] canvas")
    assert canvas_ink(page, "[data-chart='parity-1']") > 500
    assert "Acount Created" in page.inner_text(".findings")
    shoot(page, "quality")
    page.goto("/plan")
    assert page.locator("article.plan h2").count() >= 6
    shoot(page, "plan")
