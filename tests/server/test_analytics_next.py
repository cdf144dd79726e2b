"""The real @segment/analytics-next from npm, in headless Chromium, through the gateway.

The page is served from its own loopback origin (so every call is cross-origin and CORS is
exercised), loads the package's UMD build, and gives its settings inline (`cdnSettings`), with
`integrations["Segment.io"].apiHost` pointing at the gateway's /v1: nothing but loopback is
reachable. Every call the library has is sent, in its standard and its batching delivery
strategy, and checked in the store and in what a fake Segment destination received."""

from __future__ import annotations

import json
import mimetypes
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import CHROMIUM_ARGS, chromium
from tests.conftest import EXAMPLE_PLAN
from tests.fakes.segment import FakeSegment
from tests.npm import installed_version, npm_install
from trackwell.server.auth import hash_key
from trackwell.store.sqlite import SQLiteStore

from .conftest import Served, start_gateway

__all__ = ["chromium"]  # the fixture, imported for pytest

PACKAGE = "@segment/analytics-next"
VERSION = "1.84.3"
# The last version whose calls are CORS-simple (text/plain, key only in the body): no preflight.
# Its batching dispatcher posts to https:// whatever `protocol` says, so only its standard mode
# can reach a plain-HTTP loopback gateway.
SIMPLE_VERSION = "1.83.0"
SITE_KEY = "tw_test_analytics_next_key"
DESTINATION_KEY = "wk-1"  # what the gateway's Segment destination sends to the fake
BUNDLES = "/analytics-next/bundles/"  # where the UMD build loads its lazy chunks from
USER = "u-ajs-1"
# The calls, in order: anonymous page view and event, identify, then identified calls.
PAGE_SCRIPT = """
async ({gateway, key, strategy, user}) => {
  const {AnalyticsBrowser} = window.AnalyticsNext;
  const failures = [];
  const segment = {apiHost: gateway.replace("http://", "") + "/v1", protocol: "http"};
  if (strategy) segment.deliveryStrategy = strategy;
  const [analytics] = await AnalyticsBrowser.load(
    {writeKey: key, cdnURL: location.origin,
     cdnSettings: {integrations: {"Segment.io": {apiKey: key}}, metrics: {sampleRate: 0}}},
    {integrations: {"Segment.io": segment}},
  );
  analytics.on("error", (e) => failures.push(String(e && (e.code || e.reason))));
  const anonymousId = analytics.user().anonymousId();
  const ids = {};
  const keep = (name, ctx) => { ids[name] = ctx.event.messageId; };
  keep("page", await analytics.page("Pricing", {path: "/pricing"}));
  keep("track_anonymous", await analytics.track("Feature Used", {feature_name: "projects"}));
  keep("identify", await analytics.identify(user,
       {email: "ajs@example.com", created_at: 1767600000}));
  keep("track", await analytics.track("Account Created", {plan: "free", signup_source: "organic"}));
  keep("group", await analytics.group("acme", {name: "Acme"}));
  keep("screen", await analytics.screen("Home"));
  keep("alias", await analytics.alias(user, anonymousId));
  return {anonymousId, ids, failures};
}
"""
# A page of another origin posting with the same key: a simple request (text/plain, no
# Authorization: no preflight) reaches the gateway and is refused; one with Authorization is
# stopped by the browser at the preflight.
FOREIGN_SCRIPT = """
async ({gateway, key}) => {
  const body = JSON.stringify({type: "track", event: "Feature Used", anonymousId: "evil-1",
    messageId: "evil-simple", properties: {feature_name: "projects"}, writeKey: key});
  const simple = await fetch(gateway + "/v1/t",
    {method: "POST", headers: {"Content-Type": "text/plain"}, body});
  let preflighted;
  try {
    const r = await fetch(gateway + "/v1/t", {method: "POST", body: body.replace("evil-simple",
      "evil-preflight"), headers: {"Content-Type": "text/plain",
      "Authorization": "Basic " + btoa(key + ":")}});
    preflighted = "answered " + r.status;
  } catch (e) { preflighted = "blocked: " + e.name; }
  return {status: simple.status, answer: await simple.json(), preflighted};
}
"""


class PageServer:
    """A loopback origin serving a page that loads the package's UMD build, and its chunks."""

    def __init__(self, umd: Path) -> None:
        self.umd = umd
        self.paths: list[str] = []
        page = (
            "<!doctype html><html><head><title>Pricing</title>"
            # The UMD build takes the folder of its lazy chunks from window.analytics._cdn.
            "<script>window.analytics = {_cdn: location.origin};</script>"
            f'<script src="{BUNDLES}index.js"></script></head><body><h1>Plans</h1></body></html>'
        )
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                path = self.path.split("?", 1)[0]
                if path == "/pricing":
                    self._send(200, "text/html; charset=utf-8", page.encode())
                elif path.startswith(BUNDLES) and "/" not in path[len(BUNDLES) :]:
                    file = server.umd / path[len(BUNDLES) :]
                    if file.is_file():
                        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                        self._send(200, kind, file.read_bytes())
                        return
                    self._send(404, "text/plain", b"not found")
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def umd_folder(version: str) -> Path:
    """The UMD build folder (dist/umd: index.js and its chunks) of a version of the package."""
    modules = npm_install(f"analytics-next-{version}", {PACKAGE: version})
    assert installed_version(modules, PACKAGE) == version
    folder = modules / PACKAGE / "dist" / "umd"
    assert (folder / "index.js").is_file(), f"no UMD build in {folder}"
    return folder


@pytest.fixture(scope="module")
def umd() -> Path:
    """The UMD build of the version the README's table names."""
    return umd_folder(VERSION)


@contextmanager
def site(tmp_path: Path, umd: Path) -> Iterator[tuple[PageServer, PageServer, Served, FakeSegment]]:
    """The shop's page origin, a foreign origin, the gateway (an analytics.js source allowing
    only the shop's origin, a Segment destination) and the fake Segment it delivers to."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(EXAMPLE_PLAN.read_text().replace("screens: []", "screens: [Home]"))
    with PageServer(umd) as shop, PageServer(umd) as foreign, FakeSegment(DESTINATION_KEY) as fake:
        (tmp_path / "trackwell.toml").write_text(
            "[sources.site]\n"
            f'key_hashes = ["{hash_key(SITE_KEY)}"]\n'
            f'allowed_origins = ["{shop.origin}"]\n'
            "anonymous_only = false\n"
            "[destinations.seg]\n"
            'type = "segment"\n'
            f'base_url = "{fake.url}"\n'
        )
        served = start_gateway(
            tmp_path, "--plan", str(plan), env={"TRACKWELL_SEG_WRITE_KEY": DESTINATION_KEY}
        )
        try:
            yield shop, foreign, served, fake
        finally:
            served.stop()


def wait_for(what: str, check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stored_all(served: Served, message_ids: Iterable[str]) -> bool:
    """Whether every one of these messages is in the gateway's store."""
    store = SQLiteStore(served.store[len("sqlite:///") :])
    try:
        return all(store.get(message_id) is not None for message_id in message_ids)
    finally:
        store.close()


def run_page(
    chromium: str,
    url: str,
    script: str,
    argument: dict[str, Any],
    *,
    leave: bool = False,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Open `url`, run `script` with `argument`; its result and every answer of 400 or more.
    `leave`: navigate away at once, as a visitor closing the tab, instead of waiting.
    `until`: keep the browser open until it holds for the script's result (what the library
    still had to send has arrived), rather than for a fixed time a busy machine may overrun."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on(
                "response",
                lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            page.on("requestfailed", lambda r: errors.append(f"failed {r.url} {r.failure}"))
            page.goto(url)
            page.wait_for_function(
                "!!(window.AnalyticsNext && window.AnalyticsNext.AnalyticsBrowser)"
            )
            result: dict[str, Any] = page.evaluate(script, argument)
            if leave:
                page.goto("about:blank")  # pagehide: what is still buffered must go out now
            # The keepalive requests outlive the page, not the browser; the batching strategy
            # flushes on its timer: either way, wait for the arrival itself.
            if until is not None:
                wait_for("the page's calls at the gateway", lambda: until(result))
            else:
                page.wait_for_timeout(1500)
            page.close()
        finally:
            browser.close()
    result["http_errors"] = errors
    return result


def gateway_routes(served: Served) -> list[tuple[str, str, int]]:
    """(method, route, status) of every request in the gateway's access log."""
    found = []
    for line in served.logs().splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("logger") == "trackwell.server.access":
            found.append((entry["method"], entry["route"], entry["status"]))
    return found


STRATEGIES = {
    "standard": None,
    # 7 calls: two full batches of 3, then one sent by the timeout.
    "batching": {"strategy": "batching", "config": {"size": 3, "timeout": 300}},
}


@pytest.mark.parametrize(
    ("version", "mode"),
    [(VERSION, "standard"), (VERSION, "batching"), (SIMPLE_VERSION, "standard")],
)
def test_every_call_of_analytics_next_is_stored_and_delivered(
    chromium: str, tmp_path: Path, version: str, mode: str
) -> None:
    with site(tmp_path, umd_folder(version)) as (shop, _, served, fake):
        result = run_page(
            chromium,
            f"{shop.origin}/pricing",
            PAGE_SCRIPT,
            {"gateway": served.url, "key": SITE_KEY, "strategy": STRATEGIES[mode], "user": USER},
            until=lambda result: stored_all(served, result["ids"].values()),
        )
        assert result["failures"] == [] and result["http_errors"] == [], result
        ids: dict[str, str] = result["ids"]
        anonymous_id: str = result["anonymousId"]
        store = SQLiteStore(served.store[len("sqlite:///") :])
        try:
            wait_for("every call in the store", lambda: all(store.get(i) for i in ids.values()))
            stored = {name: store.get(i).message for name, i in ids.items()}  # type: ignore[union-attr]
            assert store.count_blocked() == 0
            timeline = store.timeline(USER)
        finally:
            store.close()
        wait_for(
            "every call at the destination",
            lambda: {m["messageId"] for m in fake.messages} >= set(ids.values()),
        )
        paths = {r.path for r in fake.requests}
        routes = gateway_routes(served)
    # Where analytics-next sent it: the short paths, or /v1/b when batching; since 1.84 each
    # after a preflight (the key travels in an Authorization header too), before without one.
    posted = {route for method, route, status in routes if method == "POST" and status == 200}
    assert posted == ({"/v1/b"} if mode == "batching" else {f"/v1/{k}" for k in "ptigsa"})
    preflights = {(m, s) for m, _, s in routes if m == "OPTIONS"}
    assert preflights == (set() if version == SIMPLE_VERSION else {("OPTIONS", 204)})
    # What analytics-next sent, as stored.
    assert {name: m["type"] for name, m in stored.items()} == {
        "page": "page",
        "track_anonymous": "track",
        "identify": "identify",
        "track": "track",
        "group": "group",
        "screen": "screen",
        "alias": "alias",
    }
    assert stored["page"]["name"] == "Pricing" and "userId" not in stored["page"]
    assert stored["track_anonymous"]["properties"] == {"feature_name": "projects"}
    assert stored["identify"]["userId"] == USER
    assert stored["identify"]["traits"]["email"] == "ajs@example.com"
    assert stored["track"]["userId"] == USER and stored["track"]["event"] == "Account Created"
    assert stored["track"]["properties"] == {"plan": "free", "signup_source": "organic"}
    assert stored["group"]["groupId"] == "acme" and stored["group"]["traits"] == {"name": "Acme"}
    assert stored["screen"]["name"] == "Home"
    assert (stored["alias"]["userId"], stored["alias"]["previousId"]) == (USER, anonymous_id)
    assert all(m["anonymousId"] == anonymous_id for m in stored.values())
    assert all(m["context"]["library"]["name"] == "analytics.js" for m in stored.values())
    assert all("writeKey" not in m for m in stored.values())
    # The visitor's anonymous page view and event are on the person's timeline after identify.
    assert anonymous_id in timeline.anonymous_ids
    on_timeline = {e.message["messageId"] for e in timeline.entries}
    assert {ids["page"], ids["track_anonymous"], ids["track"]} <= on_timeline
    # And the destination got each call once, with its ids and properties.
    assert paths == {"/v1/batch"}
    delivered = {m["messageId"]: m for m in fake.messages}
    assert delivered[ids["track"]]["userId"] == USER
    assert delivered[ids["track"]]["properties"] == {"plan": "free", "signup_source": "organic"}
    assert delivered[ids["page"]]["anonymousId"] == anonymous_id
    assert fake.duplicates == 0


def test_a_foreign_origin_gets_no_allowance_and_a_clear_refusal(
    chromium: str, umd: Path, tmp_path: Path
) -> None:
    with site(tmp_path, umd) as (_, foreign, served, _fake):
        result = run_page(
            chromium,
            f"{foreign.origin}/pricing",
            FOREIGN_SCRIPT,
            {"gateway": served.url, "key": SITE_KEY},
        )
        store = SQLiteStore(served.store[len("sqlite:///") :])
        try:
            assert store.count() == 0 and store.count_blocked() == 0
        finally:
            store.close()
        routes = gateway_routes(served)
    # The simple request reached the gateway and was refused; the other one's preflight got no
    # allowance, so the browser never sent it.
    assert sorted((m, s) for m, r, s in routes if r == "/v1/t") == [("OPTIONS", 403), ("POST", 403)]
    assert result["status"] == 403, json.dumps(result)
    assert result["answer"]["code"] == "origin_not_allowed"
    assert foreign.origin in result["answer"]["message"]
    assert "source 'site'" in result["answer"]["message"]
    assert result["preflighted"] == "blocked: TypeError"


def test_calls_still_batched_when_the_visitor_leaves_are_not_lost(
    chromium: str, umd: Path, tmp_path: Path
) -> None:
    # A batch that would only close after a minute: leaving the page must send it (the batching
    # dispatcher flushes its buffer with keepalive requests on page hide).
    strategy = {"strategy": "batching", "config": {"size": 100, "timeout": 60_000}}
    with site(tmp_path, umd) as (shop, _, served, fake):
        result = run_page(
            chromium,
            f"{shop.origin}/pricing",
            PAGE_SCRIPT,
            {"gateway": served.url, "key": SITE_KEY, "strategy": strategy, "user": USER},
            leave=True,
            until=lambda result: stored_all(served, result["ids"].values()),
        )
        ids = set(result["ids"].values())
        store = SQLiteStore(served.store[len("sqlite:///") :])
        try:
            wait_for("every call in the store", lambda: all(store.get(i) for i in ids))
        finally:
            store.close()
        wait_for("every call delivered", lambda: {m["messageId"] for m in fake.messages} >= ids)
        routes = gateway_routes(served)
    assert result["failures"] == [] and result["http_errors"] == [], result
    assert [r for m, r, s in routes if m == "POST"] == ["/v1/b"]  # one request, on leaving
