"""The why panel, the search, paging, layouts and the live refresh in headless Chromium, over a
real SQLite store seeded with one person per cause (tests/console/causes.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trackwell.console import create_console, hash_token
from trackwell.pipeline import accept
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store.sqlite import SQLiteStore

from .browser import CHROMIUM_ARGS, chromium, serving
from .causes import BOUNCED_MESSAGE, CAUSES, DEAD_MESSAGE, now, seed_causes
from .conftest import ADMIN_TOKEN

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

__all__ = ["chromium"]  # the fixture, imported for pytest

VIEWPORT: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}
VISITORS = 60  # more than the 50 recent people one page shows at first
LONG = "x" * 1500


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def causes_store(tmp_path_factory: pytest.TempPathFactory, plan: Plan) -> Iterator[SQLiteStore]:
    """The six causes, many anonymous visitors, and a person with a 1,500-character value."""
    store = SQLiteStore(str(Path(tmp_path_factory.mktemp("why")) / "why.db"))
    router = seed_causes(store, plan, now())
    router.close()
    visits: list[dict[str, Any]] = [
        {"type": "page", "anonymousId": f"visitor-{n:03d}", "name": "Pricing", "messageId": f"v{n}"}
        for n in range(VISITORS)
    ]
    # One value of 1,500 characters without a space (the plan allows 2,000) and a long id.
    long_one: list[dict[str, Any]] = [
        {
            "type": "identify",
            "userId": "lee-long",
            "traits": {"email": "lee@example.com", "plan": "pro", "created_at": 1_700_000_000},
            "timestamp": "2026-01-05T10:00:00Z",
            "messageId": "lee-i",
        },
        {
            "type": "track",
            "userId": "lee-long",
            "event": "Subscription Cancelled",
            "properties": {"plan_name": "pro", "reason": "other", "feedback": LONG},
            "timestamp": "2026-01-05T10:01:00Z",
            "messageId": "lee-" + "y" * 120,
        },
    ]
    accept(store, compile_plan(plan), visits + long_one)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def url(causes_store: SQLiteStore, plan: Plan) -> Iterator[str]:
    # The console's clock runs an hour ahead: Customer.io's silence about jo's event is then
    # past the trigger window, as it would be an hour later.
    app = create_console(
        causes_store,
        lambda: plan,
        admin_token_hash=hash_token(ADMIN_TOKEN),
        clock=lambda: time.time() + 3600,
    )
    with serving(app) as served:
        yield served


def logged_in(browser: Browser, url: str, viewport: ViewportSize = VIEWPORT) -> BrowserContext:
    context = browser.new_context(viewport=viewport, base_url=url)
    page = context.new_page()
    page.goto("/login")
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/people")
    page.close()
    return context


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    context = logged_in(browser, url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        yield page
        # Chromium logs every 401 it fetches; after a logout the live refresh gets exactly that.
        assert [e for e in errors if "status of 401" not in e] == []
    finally:
        context.close()


@pytest.mark.parametrize("cause", list(CAUSES))
def test_the_why_panel_names_the_cause(page: Page, cause: str) -> None:
    expected = CAUSES[cause]
    page.goto(f"/people/{expected.person}")
    if expected.event:  # asked through the panel's own form, as a person would
        page.fill("#why-event", expected.event)
        page.click(".why-ask button")
        page.wait_for_url("**event=*")
    finding = page.locator(f".diagnosis li.problem[data-code='{expected.code}']")
    assert finding.count() >= 1, page.inner_text(".why")
    link = finding.first.locator("a.to-message")
    if link.count():  # the finding names its message: the link lands on it in the timeline
        link.click()
        target = page.locator("li.entry:target")
        assert target.count() == 1 and target.is_visible()
    if cause == "message bounced":
        row = page.locator("table.reports tr[data-metric='bounced']")
        assert "mailbox unavailable" in row.inner_text()
        assert BOUNCED_MESSAGE in row.inner_text()
    if cause == "dead delivery":
        failed = page.locator(f"li.entry[data-message-id='{DEAD_MESSAGE}']")
        assert "entry-failed" in (failed.get_attribute("class") or "")
        assert "not delivered to customerio" in failed.inner_text().lower()


def test_the_search_lands_on_the_person_and_the_message(page: Page) -> None:
    page.goto("/people")
    page.fill("input[name=q]", DEAD_MESSAGE)
    page.press("input[name=q]", "Enter")
    page.wait_for_url(f"**/people/dan-dead#m-{DEAD_MESSAGE}")
    assert page.locator("li.entry:target").get_attribute("data-message-id") == DEAD_MESSAGE
    page.goto("/people")
    page.fill("input[name=q]", "bo-bounced@example.com")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/people/bo-bounced")
    assert page.inner_text("h1").startswith("bo-bounced")
    # Event names on the timeline open the event's page.
    page.click("li.entry a.event-link:text('Account Created')")
    page.wait_for_url("**/events/Account%20Created")


def test_a_long_list_pages_instead_of_stopping(page: Page) -> None:
    page.goto("/people")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 50
    page.click("a.more-link")
    page.wait_for_url("**limit=100")
    assert rows.count() > 50  # every visitor and the seeded people now
    assert page.locator("a.more-link").count() == 0


def test_a_blocked_event_is_on_its_event_page(page: Page) -> None:
    page.goto("/events/Invite%20Sent")
    page.click("#recent + p.filters a:text('blocked')")
    page.wait_for_url("**verdict=blocked*")
    row = page.locator("table.recent tr[data-verdict='blocked']")
    assert row.count() == 1 and "bea-blocked" in row.inner_text()


@pytest.mark.parametrize("viewport", [VIEWPORT, PHONE], ids=["desktop", "phone"])
def test_a_long_value_and_a_phone_keep_the_page_in_the_window(
    browser: Browser, url: str, viewport: ViewportSize
) -> None:
    context = logged_in(browser, url, viewport)
    try:
        page = context.new_page()
        for path in ("/people/lee-long", "/events/Subscription%20Cancelled", "/destinations"):
            page.goto(path)
            if path == "/people/lee-long":  # the payload open, with its long value inside
                page.click("li.entry details summary")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (path, width)
            box = page.locator("form.logout button").bounding_box()
            assert box is not None and box["x"] + box["width"] <= viewport["width"], path
    finally:
        context.close()


def test_the_live_refresh_keeps_state_and_says_when_the_session_ends(
    page: Page, causes_store: SQLiteStore, plan: Plan
) -> None:
    page.goto("/people/dan-dead")
    details = page.locator(f"li.entry[data-message-id='{DEAD_MESSAGE}'] details")
    details.locator("summary").click()
    details.locator("summary").focus()
    accept(
        causes_store,
        compile_plan(plan),
        [
            {
                "type": "track",
                "userId": "dan-dead",
                "event": "Feature Used",
                "properties": {"feature_name": "reports"},
                "messageId": "dan-feature-2",
            }
        ],
    )
    page.wait_for_selector("li.entry[data-message-id='dan-feature-2']", timeout=10_000)
    assert details.evaluate("d => d.open") is True
    focused = page.evaluate(
        "document.activeElement.closest('details') && "
        "document.activeElement.closest('details').dataset.key"
    )
    assert focused == DEAD_MESSAGE
    # Log out from another tab: this page stops and says so, and keeps its timeline.
    other = page.context.new_page()
    other.goto("/people")
    other.click("form.logout button")
    other.wait_for_url("**/login")
    page.wait_for_selector(".live-ended", timeout=10_000)
    assert "session has ended" in page.inner_text(".live-ended")
    assert page.locator("li.entry").count() >= 3
    assert page.locator("#timeline #token").count() == 0  # no login form painted inside
