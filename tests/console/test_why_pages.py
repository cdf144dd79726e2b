"""The pages of issue 20 without a browser: the why panel's document, the search by message id,
event pages with blocked messages and outcomes, delivery health, paging, the ended session."""

from __future__ import annotations

import html as html_module
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import pairwise

import httpx
import pytest

from trackwell.console import create_console, hash_token
from trackwell.console.health import error_groups, health
from trackwell.monitor.queues import queue_document
from trackwell.plan import Plan
from trackwell.store.base import DeliveryError
from trackwell.store.sqlite import SQLiteStore

from .causes import CAUSES, DEAD_MESSAGE, seed_causes
from .conftest import ADMIN_TOKEN, Logged, log_in

pytestmark = pytest.mark.anyio


def _text(page: str) -> str:
    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
async def causes(store: SQLiteStore, plan: Plan) -> AsyncIterator[Logged]:
    """A logged-in client over the six causes, the console an hour ahead, Customer.io's table
    in capture mode."""
    router = seed_causes(store, plan, datetime.now(UTC))
    router.close()
    app = create_console(
        store,
        lambda: plan,
        admin_token_hash=hash_token(ADMIN_TOKEN),
        clock=lambda: time.time() + 3600,
        destinations={"customerio": {"type": "customerio", "mode": "capture"}},
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        yield Logged(client, await log_in(client))


@pytest.mark.parametrize("cause", list(CAUSES))
async def test_the_person_page_explains_each_cause(causes: Logged, cause: str) -> None:
    expected = CAUSES[cause]
    params = {"event": expected.event} if expected.event else {}
    page = await causes.client.get(f"/people/{expected.person}", params=params)
    assert page.status_code == 200
    codes = re.findall(r'class="finding problem" data-code="([a-z_]+)"', page.text)
    assert expected.code in codes


async def test_a_message_id_search_lands_on_the_message(causes: Logged) -> None:
    found = await causes.client.get("/people", params={"q": DEAD_MESSAGE})
    assert found.status_code == 303
    assert found.headers["location"] == f"/people/dan-dead#m-{DEAD_MESSAGE}"
    listed = (await causes.client.get("/api/people", params={"q": DEAD_MESSAGE})).json()
    assert listed["results"][0]["via"] == "message id"


async def test_an_event_page_shows_blocked_messages_and_each_destination(causes: Logged) -> None:
    blocked = await causes.client.get("/api/events/Invite Sent", params={"verdict": "blocked"})
    rows = blocked.json()["recent"]
    assert [r["person"] for r in rows] == ["bea-blocked"] and rows[0]["verdict"] == "blocked"
    used = (await causes.client.get("/api/events/Feature Used")).json()["recent"]
    dan = next(r for r in used if r["message_id"] == DEAD_MESSAGE)
    assert dan["verdict"] == "accepted"
    assert [(d["destination"], d["status"]) for d in dan["deliveries"]] == [("customerio", "dead")]
    page = await causes.client.get("/events/Feature Used")
    assert "customerio dead" in _text(page.text)


async def test_delivery_health_says_capture_mode_and_groups_errors(causes: Logged) -> None:
    page = await causes.client.get("/destinations")
    assert 'data-health="capture"' in page.text
    assert 'capture mode (mode = "capture")' in _text(page.text)
    data = (await causes.client.get("/api/destinations")).json()
    groups = data["destinations"][0]["error_groups"]
    assert groups[0]["count"] == 1 and groups[0]["reason"].startswith("HTTP 400")


def test_health_levels() -> None:
    from trackwell.store.base import DeliveryStats

    def queue(**counts: int | None) -> dict[str, object]:
        fields = {"pending": 0, "in_flight": 0, "delivered": 0, "captured": 0, "no_consent": 0,
                  "held": 0, "retry": 0, "waiting": 0, "dead": 0, "oldest_pending_ms": None,
                  "last_error": None}  # fmt: skip
        fields.update(counts)
        return queue_document(DeliveryStats("crm", **fields))  # type: ignore[arg-type]

    assert health(queue(pending=40, oldest_pending_ms=900_000), None)["level"] == "stalled"
    assert health(queue(pending=40, oldest_pending_ms=10_000), None)["level"] == "ok"
    assert health(queue(delivered=5, dead=1), None)["level"] == "failing"
    assert health(queue(delivered=5), "no_credentials")["level"] == "capture"
    assert health(queue(captured=3), None)["level"] == "capture"
    assert health(queue(delivered=9), None) == {"level": "ok", "reasons": []}
    grouped = error_groups(
        [
            DeliveryError(1, "retry", 5, "HTTP 503"),
            DeliveryError(2, "retry", 9, "HTTP 503"),
            DeliveryError(3, "dead", 7, "HTTP 400"),
        ]
    )
    assert [(g["reason"], g["count"], g["latest_ms"]) for g in grouped] == [
        ("HTTP 503", 2, 9),
        ("HTTP 400", 1, 7),
    ]


async def test_lists_say_when_they_are_cut_and_offer_more(logged: Logged, seeded: object) -> None:
    first = await logged.client.get("/people")
    assert "Showing the newest 50 people" in _text(first.text)
    assert 'href="/people?limit=100"' in first.text
    assert first.text.count('<tr><td><a href="/people/') == 50
    more = await logged.client.get("/people", params={"limit": "100"})
    assert more.text.count('<tr><td><a href="/people/') == 100
    everyone = await logged.client.get("/people", params={"limit": "800"})
    assert 100 < everyone.text.count('<tr><td><a href="/people/') < 800
    assert "Showing the newest" not in _text(everyone.text)  # all of them fit: nothing is cut
    feed = (await logged.client.get("/api/violations", params={"limit": "999999"})).json()
    assert feed["page"]["cap"] == 1000 and feed["page"]["cut"] is False


async def test_an_ended_session_gets_401_for_a_fragment_not_the_login_page(
    logged: Logged, seeded: object
) -> None:
    await logged.client.post("/logout", data={"csrf": logged.csrf})
    fragment = await logged.client.get(
        "/people/ada-lovelace", params={"part": "timeline"}, headers={"accept": "text/html"}
    )
    assert fragment.status_code == 401
    whole = await logged.client.get("/people/ada-lovelace", headers={"accept": "text/html"})
    assert whole.status_code == 303 and "/login" in whole.headers["location"]


async def test_an_event_chart_is_hourly_up_to_a_week_and_daily_beyond(
    logged: Logged, seeded: object
) -> None:
    day = (await logged.client.get("/api/events/Account Created", params={"range": "24h"})).json()
    x = day["chart"]["x"]
    assert len(x) == 24 and {b - a for a, b in pairwise(x)} == {3600}
    assert day["hourly"] and sum(sum(s["values"]) for s in day["chart"]["series"]) > 0
    week = (await logged.client.get("/api/events/Account Created", params={"range": "7d"})).json()
    assert len(week["chart"]["x"]) == 7 * 24
    month = (await logged.client.get("/api/events/Account Created", params={"range": "30d"})).json()
    assert len(month["chart"]["x"]) == 30 and not month["hourly"]
    odd = (await logged.client.get("/api/events/Account Created", params={"range": "1y"})).json()
    assert odd["range"] == "90d"
    page = await logged.client.get("/events/Account Created", params={"range": "7d"})
    assert '<option value="7d" selected>' in page.text and "Hourly volume" in page.text


async def test_an_event_page_lists_more_messages_on_request(logged: Logged, seeded: object) -> None:
    first = (await logged.client.get("/api/events/Feature Used")).json()
    assert len(first["recent"]) == 10 and first["recent_page"]["more"] == 20
    more = (await logged.client.get("/api/events/Feature Used", params={"limit": "20"})).json()
    assert len(more["recent"]) == 20
    assert [r["message_id"] for r in more["recent"][:10]] == [
        r["message_id"] for r in first["recent"]
    ]
