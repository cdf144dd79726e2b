"""The Privacy and Audit log pages: a request made through the form (confirmed, CSRF-checked),
its receipts, the audit entries of every console action, and no payload value in any of them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from trackwell.console import create_console, hash_token
from trackwell.pipeline.privacy import PrivacyService
from trackwell.plan import Plan
from trackwell.store.sqlite import SQLiteStore

from .conftest import ADMIN_TOKEN, ANONYMOUS, DEAD_ID, PERSON, Logged, Seeded, log_in, login_token

pytestmark = pytest.mark.anyio
# What the seeded person is known by, and what their messages carry: none of it may reach the
# audit log (it names requests, destinations and counts only).
VALUES = (PERSON, ANONYMOUS, "ada@example.com", "Ada Lovelace", "timeline", "referral")


@pytest.fixture
def app(store: SQLiteStore, plan: Plan) -> Starlette:
    service = PrivacyService(store, ["customerio", "mixpanel"])
    return create_console(
        store, lambda: plan, admin_token_hash=hash_token(ADMIN_TOKEN), privacy=service
    )


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        yield client


def audit_text(store: SQLiteStore) -> str:
    """Every audit entry, as one JSON text."""
    entries = store.audit_entries(limit=1000)
    return json.dumps([[e.actor, e.action, e.target, dict(e.detail)] for e in entries])


async def test_erase_is_confirmed_then_made_and_shows_its_receipts(
    logged: Logged, seeded: Seeded
) -> None:
    c = logged.client
    page = await c.get("/privacy")
    assert page.status_code == 200 and "No privacy request yet" in page.text
    form = {"kind": "erase", "person": PERSON}
    refused = await c.post("/privacy/confirm", data=form)
    assert refused.status_code == 403  # no CSRF token
    confirm = await c.post("/privacy/confirm", data={**form, "csrf": logged.csrf})
    assert (
        confirm.status_code == 200 and PERSON in confirm.text and "cannot be undone" in confirm.text
    )
    assert seeded.store.profile(PERSON) is not None  # nothing happens before the confirmation
    assert (await c.post("/privacy/requests", data=form)).status_code == 403
    made = await c.post("/privacy/requests", data={**form, "csrf": logged.csrf})
    assert made.status_code == 303
    location = made.headers["location"]
    assert location.startswith("/privacy/prv_") and PERSON not in location
    request_id = location.rsplit("/", 1)[1]
    assert seeded.store.profile(PERSON) is None and seeded.store.get(DEAD_ID) is None
    shown = await c.get(location)
    assert shown.status_code == 200 and request_id in shown.text
    assert "customerio" in shown.text and "mixpanel" in shown.text
    data = (await c.get(f"/api/privacy/{request_id}")).json()
    assert data["kind"] == "erase" and data["actor"].startswith("console:")
    assert {r["name"] for r in data["destinations"]} == {"customerio", "mixpanel"}
    assert data["identifiers"] >= 2 and PERSON not in json.dumps(data)
    listed = (await c.get("/api/privacy")).json()["requests"]
    assert [r["id"] for r in listed] == [request_id]
    assert request_id in (await c.get("/privacy")).text
    assert (await c.get("/api/privacy/prv_nothing")).status_code == 404
    assert (await c.get("/privacy/prv_nothing")).status_code == 404
    entries = seeded.store.audit_entries(limit=10, action="erase")
    assert [e.target for e in entries] == [request_id]
    text = audit_text(seeded.store)
    assert not [value for value in VALUES if value in text], text


async def test_the_form_refuses_what_is_not_a_request(logged: Logged) -> None:
    for form in ({"kind": "forget", "person": "u1"}, {"kind": "erase", "person": "  "}):
        answer = await logged.client.post("/privacy/confirm", data={**form, "csrf": logged.csrf})
        assert answer.status_code == 400
        made = await logged.client.post("/privacy/requests", data={**form, "csrf": logged.csrf})
        assert made.status_code == 400
    long = {"kind": "suppress", "person": "x" * 256, "csrf": logged.csrf}
    assert (await logged.client.post("/privacy/requests", data=long)).status_code == 400


async def test_suppress_then_unsuppress_from_the_console(logged: Logged, seeded: Seeded) -> None:
    for kind in ("suppress", "unsuppress"):
        made = await logged.client.post(
            "/privacy/requests", data={"kind": kind, "person": PERSON, "csrf": logged.csrf}
        )
        assert made.status_code == 303
    kinds = [r["kind"] for r in (await logged.client.get("/api/privacy")).json()["requests"]]
    assert kinds == ["unsuppress", "suppress"]  # newest first
    assert seeded.store.profile(PERSON) is not None  # suppression keeps what is stored


async def test_without_a_service_the_page_lists_and_makes_nothing(
    store: SQLiteStore, plan: Plan
) -> None:
    app = create_console(store, lambda: plan, admin_token_hash=hash_token(ADMIN_TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        csrf = await log_in(client)
        page = await client.get("/privacy")
        assert page.status_code == 200 and 'action="/privacy/confirm"' not in page.text
        made = await client.post(
            "/privacy/requests", data={"kind": "erase", "person": "u1", "csrf": csrf}
        )
        assert made.status_code == 503


async def test_logins_replays_and_requests_are_in_the_audit_log(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    form = await client.get("/login")
    wrong = await client.post(
        "/login", data={"token": "tw_not_the_token", "csrf": login_token(form.text)}
    )
    assert wrong.status_code == 401
    csrf = await log_in(client)
    replayed = await client.post(
        "/destinations/customerio/replay", data={"message_id": DEAD_ID, "csrf": csrf}
    )
    assert replayed.status_code == 303
    await client.post("/privacy/requests", data={"kind": "suppress", "person": PERSON,
                                                   "csrf": csrf})  # fmt: skip
    entries = seeded.store.audit_entries(limit=100)
    actions = [e.action for e in entries]
    assert actions == ["suppress", "replay", "console_login", "console_login_failed"]
    by_action = {e.action: e for e in entries}
    assert by_action["console_login_failed"].actor == "console"
    login = by_action["console_login"]
    assert login.actor.startswith("console:") and len(login.actor) > len("console:")
    replay = by_action["replay"]
    assert (replay.actor, replay.target) == (login.actor, "customerio")
    assert replay.detail == {"messages": 1, "what": "dead"}
    assert by_action["suppress"].actor == login.actor
    text = audit_text(seeded.store)
    assert "tw_not_the_token" not in text and ADMIN_TOKEN not in text
    assert DEAD_ID not in text
    assert not [value for value in VALUES if value in text], text
    # The page and its JSON twin: newest first, filtered by action, a page at a time.
    page = await client.get("/audit")
    assert page.status_code == 200 and "console_login_failed" in page.text
    data = (await client.get("/api/audit", params={"action": "replay"})).json()
    assert [e["action"] for e in data["entries"]] == ["replay"]
    everything = (await client.get("/api/audit")).json()["entries"]
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True)
    older = (await client.get("/api/audit", params={"before": ids[0]})).json()["entries"]
    assert [e["id"] for e in older] == ids[1:]
    filtered = await client.get("/audit", params={"action": "erase"})
    assert filtered.status_code == 200 and "No entry for erase" in filtered.text


async def test_the_audit_log_pages_through_older_entries(
    logged: Logged, store: SQLiteStore
) -> None:
    for n in range(60):
        store.append_audit("cli", "key_added", f"source-{n}", {"key": "sha256:0123"}, now_ms=n)
    first = (await logged.client.get("/api/audit", params={"action": "key_added"})).json()
    assert len(first["entries"]) == 50 and first["older"] is not None
    page = await logged.client.get("/audit", params={"action": "key_added"})
    assert f"before={first['older']}" in page.text
    rest = (
        await logged.client.get(
            "/api/audit", params={"action": "key_added", "before": first["older"]}
        )
    ).json()
    assert len(rest["entries"]) == 10 and rest["older"] is None
