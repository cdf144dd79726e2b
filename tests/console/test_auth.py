"""Console access: nothing without a session, login with the admin token only, CSRF on every POST."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from trackwell.console import admin_token_hash, create_console, hash_token
from trackwell.console.auth import FAILURE_WINDOW_SECONDS, MAX_FAILURES, SESSION_COOKIE, Guard
from trackwell.io.config import ConfigError, load_settings
from trackwell.plan import Plan
from trackwell.store.sqlite import SQLiteStore

from .conftest import ADMIN_TOKEN, WRITE_KEY, Logged, log_in, login_token

pytestmark = pytest.mark.anyio

PAGES = [
    "/",
    "/people",
    "/people?q=ada@example.com",
    "/people/user-1",
    "/events",
    "/events/Account%20Created",
    "/violations",
    "/destinations",
    "/destinations/cio/replay",
    "/quality",
    "/plan",
    "/privacy",
    "/privacy/prv_0",
    "/audit",
]
APIS = [
    "/api/people",
    "/api/people/user-1",
    "/api/events",
    "/api/events/Account%20Created",
    "/api/violations",
    "/api/destinations",
    "/api/quality",
    "/api/privacy",
    "/api/privacy/prv_0",
    "/api/audit",
]
ACTIONS = ["/logout", "/destinations/cio/replay", "/privacy/confirm", "/privacy/requests"]
HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize("path", PAGES)
async def test_a_browser_without_a_session_is_sent_to_the_login_form(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2F")


@pytest.mark.parametrize("path", PAGES + APIS)
async def test_without_a_session_anything_else_is_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert "log in" in response.json()["message"]


@pytest.mark.parametrize("path", ACTIONS)
async def test_actions_without_a_session_are_401(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, data={"csrf": "x"})
    assert response.status_code == 401


async def test_write_keys_never_open_the_console(client: httpx.AsyncClient) -> None:
    basic = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    for headers in ({"authorization": f"Basic {basic}"}, {"authorization": f"Bearer {WRITE_KEY}"}):
        assert (await client.get("/api/people", headers=headers)).status_code == 401
    form = await client.get("/login")
    refused = await client.post("/login", data={"token": WRITE_KEY, "csrf": login_token(form.text)})
    assert refused.status_code == 401
    assert "not the admin token" in refused.text
    assert SESSION_COOKIE not in client.cookies


async def test_login_sets_a_strict_httponly_session(client: httpx.AsyncClient) -> None:
    form = await client.get("/login?next=/events")
    assert form.status_code == 200
    response = await client.post(
        "/login", data={"token": ADMIN_TOKEN, "csrf": login_token(form.text), "next": "/events"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/events"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert (await client.get("/events")).status_code == 200


async def test_login_needs_the_forms_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/login", data={"token": ADMIN_TOKEN})
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


async def test_login_never_redirects_to_another_site(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={"token": ADMIN_TOKEN, "csrf": login_token(form.text), "next": "//evil.example/x"},
    )
    assert response.headers["location"] == "/people"


async def test_a_post_without_csrf_is_refused(logged: Logged) -> None:
    for data in ({}, {"csrf": "forged"}):
        response = await logged.client.post("/logout", data=data)
        assert response.status_code == 403
        assert "CSRF" in response.json()["message"]
    assert (await logged.client.get("/people")).status_code == 200  # still logged in
    response = await logged.client.post("/logout", data={"csrf": logged.csrf})
    assert response.status_code == 303
    assert (await logged.client.get("/api/people")).status_code == 401


async def test_a_logged_out_cookie_stays_logged_out(logged: Logged) -> None:
    cookie = logged.client.cookies[SESSION_COOKIE]
    await logged.client.post("/logout", data={"csrf": logged.csrf})
    logged.client.cookies.set(SESSION_COOKIE, cookie)
    assert (await logged.client.get("/api/people")).status_code == 401


async def test_a_forged_or_foreign_cookie_is_refused(
    client: httpx.AsyncClient, store: SQLiteStore, plan: Plan
) -> None:
    sid, expires, _ = Guard(hash_token(ADMIN_TOKEN)).new_session()[1].split(".")
    client.cookies.set(SESSION_COOKIE, f"{sid}.{expires}.{'0' * 64}")
    assert (await client.get("/api/people")).status_code == 401
    # A session of another process (its own secret) does not open this one.
    other = create_console(store, lambda: plan, admin_token_hash=hash_token(ADMIN_TOKEN))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other), base_url="http://console.test"
    ) as elsewhere:
        await log_in(elsewhere)
        client.cookies.set(SESSION_COOKIE, elsewhere.cookies[SESSION_COOKIE])
    assert (await client.get("/api/people")).status_code == 401


async def test_failed_logins_are_throttled(client: httpx.AsyncClient) -> None:
    for _ in range(MAX_FAILURES):
        form = await client.get("/login")
        await client.post("/login", data={"token": "guess", "csrf": login_token(form.text)})
    form = await client.get("/login")
    response = await client.post(
        "/login", data={"token": ADMIN_TOKEN, "csrf": login_token(form.text)}
    )
    assert response.status_code == 429


async def test_without_a_configured_token_nobody_logs_in(store: SQLiteStore, plan: Plan) -> None:
    app: Starlette = create_console(store, lambda: plan, admin_token_hash=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console.test"
    ) as client:
        form = await client.get("/login")
        assert "No admin token is configured" in form.text
        response = await client.post("/login", data={"token": "", "csrf": login_token(form.text)})
        assert response.status_code == 401


async def test_pages_carry_a_strict_content_security_policy(logged: Logged) -> None:
    response = await logged.client.get("/people")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_the_admin_token_comes_from_the_environment_or_the_config() -> None:
    digest = hash_token("from-file")
    assert admin_token_hash({"admin_token_hash": digest}, {}) == digest
    env = {"TRACKWELL_ADMIN_TOKEN": "from-env"}
    assert admin_token_hash({"admin_token_hash": digest}, env) == hash_token("from-env")
    assert admin_token_hash({}, {}) is None


def test_the_console_config_table_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "trackwell.toml"
    digest = hash_token("t")
    path.write_text(f'[console]\nadmin_token_hash = "{digest}"\n')
    assert load_settings(config=path, environ={}).console == {"admin_token_hash": digest}
    path.write_text('[console]\nadmin_token_hash = "t"\n')
    with pytest.raises(ConfigError, match="sha256"):
        load_settings(config=path, environ={})
    path.write_text('[console]\nadmin_token = "t"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings(config=path, environ={})


async def test_paths_that_are_not_the_consoles_are_404_not_401(client: httpx.AsyncClient) -> None:
    # Mounted at `/`, the console sees the gateway's misses: an API client's typo is a 404.
    for path in ("/v1/trak", "/nowhere", "/peoplex"):
        response = await client.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert (await client.get("/nowhere", headers=HTML)).status_code == 404


async def test_the_throttle_is_per_client_and_says_when_to_retry(app: Starlette) -> None:
    async def attempt(peer: str, token: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as c:
            form = await c.get("/login")
            return await c.post("/login", data={"token": token, "csrf": login_token(form.text)})

    for _ in range(MAX_FAILURES):
        assert (await attempt("203.0.113.9", "guess")).status_code == 401
    refused = await attempt("203.0.113.9", ADMIN_TOKEN)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= FAILURE_WINDOW_SECONDS
    # The guesser is throttled; the admin, from another address, is not.
    assert (await attempt("198.51.100.7", ADMIN_TOKEN)).status_code == 303


def test_a_client_waits_until_its_oldest_failure_leaves_the_window() -> None:
    guard = Guard(hash_token(ADMIN_TOKEN))
    for n in range(MAX_FAILURES):
        guard.failed("a", now=100.0 + n)
    assert guard.retry_after("a", now=110.0) == 50
    assert guard.retry_after("b", now=110.0) == 0
    assert guard.retry_after("a", now=160.5) == 0  # the first failure has left the window


async def test_hsts_is_sent_over_tls_only(app: Starlette) -> None:
    for base, expected in (("https://console.test", True), ("http://console.test", False)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as c:
            response = await c.get("/login")
            assert ("strict-transport-security" in response.headers) is expected
            if expected:
                assert response.headers["strict-transport-security"] == "max-age=31536000"
