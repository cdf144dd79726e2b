"""The snippet in headless Chromium: cookie, stored page view, then one merged timeline via the SDK."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import trackwell
from tests.chromium import CHROMIUM_ARGS, chromium
from trackwell.server.auth import hash_key
from trackwell.store.sqlite import SQLiteStore

from .conftest import BROWSER_KEY, EXAMPLE_PLAN, Served, start_gateway

__all__ = ["chromium"]  # the fixture, imported for pytest


class _Page(BaseHTTPRequestHandler):
    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def browser_gateway(tmp_path: Path) -> Iterator[Served]:
    """A gateway whose trackwell.toml has a browser key for the `web` source."""
    (tmp_path / "trackwell.toml").write_text(
        f'[sources.web]\nkey_hashes = ["{hash_key(BROWSER_KEY)}"]\ntypes = ["page", "track"]\nanonymous_only = true\n'
    )
    served = start_gateway(tmp_path)
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def marketing_page(browser_gateway: Served) -> Iterator[str]:
    """A marketing page on another origin that loads the snippet."""
    page = f"""<!doctype html><html><head><title>Acme pricing</title>
<meta name="trackwell:page" content="Pricing"></head><body><h1>Plans</h1>
<script src="{browser_gateway.url}/trackwell.js" data-write-key="{BROWSER_KEY}" async></script>
</body></html>"""
    handler = type("Handler", (_Page,), {"html": page.encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pricing"
    finally:
        server.shutdown()
        server.server_close()


def _wait_for(store: SQLiteStore, anonymous_id: str, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        entries = [e.message for e in store.timeline(anonymous_id).entries]
        if len(entries) >= count:
            return entries
        time.sleep(0.1)
    raise AssertionError(f"only {len(entries)} message(s) of {anonymous_id} stored")


def test_snippet_cookie_page_view_and_merged_timeline(
    chromium: str, browser_gateway: Served, marketing_page: str
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(marketing_page)
            page.wait_for_function("window.trackwell && window.trackwell.loaded")
            cookies = {c["name"]: c for c in context.cookies()}
            assert "tw_anon_id" in cookies
            cookie = cookies["tw_anon_id"]
            assert cookie["sameSite"] == "Lax"
            assert cookie["expires"] > time.time() + 360 * 86400  # a year
            anonymous_id = cookie["value"]
            assert page.evaluate("window.trackwell.anonymousId()") == anonymous_id
            # An unplanned event is dropped by the snippet; a planned one leaves with the beacon.
            page.evaluate("window.trackwell.track('Button Clicked', {})")
            page.evaluate("window.trackwell.track('Page Viewed', {page_name: 'Pricing'})")
            page.goto("about:blank")  # page hide: the queue goes out through navigator.sendBeacon
        finally:
            browser.close()

    store = SQLiteStore(browser_gateway.store[len("sqlite:///") :])
    try:
        before = _wait_for(store, anonymous_id, 2)
        assert {(m["type"], m.get("name") or m.get("event")) for m in before} == {
            ("page", "Pricing"),
            ("track", "Page Viewed"),
        }
        assert all(m["anonymousId"] == anonymous_id and "userId" not in m for m in before)
        assert before[0]["context"]["library"]["name"] == "trackwell.js"  # type: ignore[index]

        client = trackwell.Client(plan=EXAMPLE_PLAN, store=browser_gateway.store, durability="sync")
        client.identify(
            "browser-user",
            {"email": "b@example.com", "created_at": int(time.time())},
            anonymous_id=anonymous_id,
        )
        client.track(
            "browser-user", "Account Created", {"plan": "free", "signup_source": "organic"}
        )
        client.close()

        timeline = store.timeline("browser-user")
        kinds = [
            (e.message["type"], e.message.get("name") or e.message.get("event"))
            for e in timeline.entries
        ]
        assert kinds[:2] in (
            [("page", "Pricing"), ("track", "Page Viewed")],
            [("track", "Page Viewed"), ("page", "Pricing")],
        )
        assert ("identify", None) in kinds and ("track", "Account Created") in kinds
        assert anonymous_id in timeline.anonymous_ids
        assert store.timeline(anonymous_id).profile is not None  # the cookie now names the person
    finally:
        store.close()
