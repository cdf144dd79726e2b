"""What an anonymous-only browser key may do: no identity or traits, and a default rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from trackwell.server.auth import BROWSER_RATE_LIMIT, KeyRing, Source, hash_key
from trackwell.server.ratelimit import SourceLimits

from .conftest import BROWSER_KEY, SOURCES, harness, start_gateway

pytestmark = pytest.mark.anyio

PAGE_VIEW: dict[str, Any] = {
    "type": "track",
    "anonymousId": "anon-web-1",
    "event": "Account Created",
    "properties": {"plan": "free", "signup_source": "organic"},
    "timestamp": "2026-01-05T10:00:00Z",
}


async def test_traits_and_other_user_id_spellings_never_leave_a_browser_message(
    tmp_path: Path,
) -> None:
    sent = {
        **PAGE_VIEW,
        "messageId": "m-strip",
        "user_id": "victim-1",
        "User-ID": "victim-2",
        "context": {"traits": {"email": "ceo@example.com", "plan": "enterprise"}, "locale": "en"},
    }
    async with harness(tmp_path) as h:
        response = await h.client.post("/v1/track", json=sent, auth=(BROWSER_KEY, ""))
        assert response.status_code == 200, response.text
        stored = h.store.get("m-strip")
        assert stored is not None
        message = stored.message
        assert message["context"] == {"locale": "en"}  # traits gone, the rest kept
        assert not {"user_id", "User-ID", "userId"} & set(message)
        assert h.store.profile("victim-1") is None and h.store.profile("victim-2") is None


async def test_a_server_key_keeps_context_traits(tmp_path: Path) -> None:
    sent = {**PAGE_VIEW, "messageId": "m-server", "context": {"traits": {"plan": "pro"}}}
    async with harness(tmp_path) as h:
        response = await h.client.post("/v1/track", json=sent, auth=("tw_test_backend_key", ""))
        assert response.status_code == 200, response.text
        stored = h.store.get("m-server")
        assert stored is not None and stored.message["context"]["traits"] == {"plan": "pro"}


def test_browser_sources_are_rate_limited_by_default_and_rate_limit_overrides_it() -> None:
    ring = KeyRing.from_config(
        {
            "web": {"key_hashes": [], "anonymous_only": True},
            "fast": {"key_hashes": [], "anonymous_only": True, "rate_limit": 5000},
            "backend": {"key_hashes": []},
        }
    )
    assert ring.sources["web"].rate_limit == BROWSER_RATE_LIMIT
    assert ring.sources["fast"].rate_limit == 5000
    assert ring.sources["backend"].rate_limit is None
    assert "at most 100 events/s" in ring.sources["web"].describe()


async def test_a_flood_through_a_browser_key_gets_429_and_stores_nothing(tmp_path: Path) -> None:
    batch = {
        "batch": [{**PAGE_VIEW, "messageId": f"f-{i}"} for i in range(2 * int(BROWSER_RATE_LIMIT))]
    }
    async with harness(tmp_path) as h:
        # a clock that stands still, so a slow machine cannot refill the bucket between requests
        h.gateway.limits = SourceLimits(h.gateway.keys.sources.values(), clock=lambda: 1.0)
        first = await h.client.post("/v1/batch", json=batch, auth=(BROWSER_KEY, ""))
        assert first.status_code == 200, first.text
        before = h.stored()
        again = {"batch": [{**PAGE_VIEW, "messageId": "f-over"}]}
        flooded = await h.client.post("/v1/batch", json=again, auth=(BROWSER_KEY, ""))
        assert flooded.status_code == 429 and flooded.json()["code"] == "rate_limited"
        assert int(flooded.headers["Retry-After"]) >= 1
        assert h.stored() == before  # nothing of the refused request was kept
        # a server source has no default limit
        backend = await h.client.post(
            "/v1/batch", json=batch | {"batch": []}, auth=("tw_test_backend_key", "")
        )
        assert backend.status_code == 200


def test_a_key_past_its_expiry_is_refused_and_works_until_then() -> None:
    soon = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    ring = KeyRing.from_config(
        {
            "web": {
                "key_hashes": [hash_key("tw_old"), hash_key("tw_new")],
                "key_expires": {hash_key("tw_old"): soon},
            }
        }
    )
    before, after = soon - timedelta(seconds=1), soon + timedelta(seconds=1)
    assert ring.find("tw_old", now=before) is ring.sources["web"]
    assert ring.find("tw_old", now=after) is None
    assert ring.find("tw_new", now=after) is ring.sources["web"]
    assert ring.find("tw_old", now=soon) is None  # the expiry itself is past


def test_sources_of_the_test_gateway_are_what_the_tests_assume() -> None:
    tables: dict[str, dict[str, Any]] = SOURCES  # type: ignore[assignment]
    web = KeyRing.from_config(tables).sources["web"]
    assert web == Source(
        "web",
        frozenset({"page", "track"}),
        True,
        BROWSER_RATE_LIMIT,
        allowed_origins=frozenset({"*"}),
    )


async def test_a_browser_key_may_send_only_the_plans_browser_events(tmp_path: Path) -> None:
    # The example plan marks only Page Viewed `browser: true`: a page's batch keeps its good
    # messages, and a Subscription Started worth $999,999.99 is kept blocked with the reason.
    viewed = {
        **PAGE_VIEW,
        "messageId": "m-viewed",
        "event": "Page Viewed",
        "properties": {"page_name": "Pricing"},
    }
    bought = {
        **PAGE_VIEW,
        "messageId": "m-bought",
        "event": "Subscription Started",
        "properties": {"plan": "pro", "billing_period": "annual", "mrr": 999_999.99},
    }
    page = {**PAGE_VIEW, "type": "page", "name": "Pricing", "messageId": "m-page"}
    page.pop("event")
    async with harness(tmp_path) as h:
        response = await h.client.post(
            "/v1/batch", json={"batch": [viewed, bought, page]}, auth=(BROWSER_KEY, "")
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["accepted"] + body["repaired"] == 2 and body["blocked"] == 1
        refused = [v for v in body["violations"] if v["code"] == "not_for_browser"]
        assert [(v["index"], v["path"]) for v in refused] == [(1, "event")]
        assert "'Page Viewed'" in refused[0]["message"] and "backend" in refused[0]["message"]
        assert h.store.get("m-viewed") is not None and h.store.get("m-page") is not None
        kept = h.store.get("m-bought")
        assert kept is not None and kept.seq is None  # kept blocked, not logged: never delivered
        assert h.store.count_blocked() == 1
        assert len(h.store.stored_violations(code="not_for_browser")) == 1
        # the same event from a server key is not a browser's business
        server = {**bought, "messageId": "m-bought-server", "userId": "u-1"}
        sent = await h.client.post("/v1/track", json=server, auth=("tw_test_backend_key", ""))
        assert not [v for v in sent.json()["violations"] if v["code"] == "not_for_browser"]


async def test_a_browser_key_cannot_write_onto_an_identified_persons_timeline(
    tmp_path: Path,
) -> None:
    viewed = {**PAGE_VIEW, "event": "Page Viewed", "properties": {"page_name": "Pricing"}}
    identify = {
        "type": "identify",
        "userId": "victim",
        "anonymousId": "anon-victim",
        "traits": {"email": "v@example.com", "created_at": "2026-01-01T00:00:00Z"},
        "timestamp": "2026-01-05T09:00:00Z",
    }
    async with harness(tmp_path) as h:
        made = await h.client.post("/v1/identify", json=identify, auth=("tw_test_backend_key", ""))
        assert made.status_code == 200, made.text
        forged = {**viewed, "messageId": "m-forged", "anonymousId": "anon-victim"}
        stranger = {**viewed, "messageId": "m-stranger", "anonymousId": "anon-stranger"}
        response = await h.client.post(
            "/v1/batch", json={"batch": [forged, stranger]}, auth=(BROWSER_KEY, "")
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["blocked"] == 1
        [refused] = [v for v in body["violations"] if v["code"] == "not_for_browser"]
        assert refused["index"] == 0 and refused["path"] == "anonymousId"
        # Only ever shown as a blocked attempt, with its reason: never in the log, never delivered.
        timeline = {e.message.get("messageId"): e for e in h.store.timeline("victim").entries}
        forged_entry = timeline["m-forged"]
        assert forged_entry.seq is None and forged_entry.verdict == "blocked"
        assert [v["code"] for v in forged_entry.violations] == ["not_for_browser"]
        visitor = h.store.get("m-stranger")
        assert visitor is not None and visitor.seq is not None  # an unknown visitor is logged
        # the person's own backend may still send under the tied id
        own = {**forged, "messageId": "m-own"}
        sent = await h.client.post("/v1/track", json=own, auth=("tw_test_backend_key", ""))
        assert sent.status_code == 200 and sent.json()["blocked"] == 0


def test_a_real_gateway_limits_and_restricts_a_browser_key(tmp_path: Path) -> None:
    (tmp_path / "trackwell.toml").write_text(
        f'[sources.web]\nkey_hashes = ["{hash_key(BROWSER_KEY)}"]\n'
        'types = ["page", "track"]\nanonymous_only = true\n'
    )
    served = start_gateway(tmp_path)
    try:
        viewed = {**PAGE_VIEW, "event": "Page Viewed", "properties": {"page_name": "Pricing"}}
        bought = {**PAGE_VIEW, "event": "Subscription Started"}
        # ten seconds of debt: the next request is refused however slowly this one is handled
        flood = [{**viewed, "messageId": f"p-{i}"} for i in range(10 * int(BROWSER_RATE_LIMIT))]
        first = httpx.post(
            f"{served.url}/v1/batch",
            json={"batch": [*flood, {**bought, "messageId": "p-bought"}]},
            auth=(BROWSER_KEY, ""),
            timeout=30,
        )
        assert first.status_code == 200, first.text
        assert first.json()["blocked"] == 1
        over = httpx.post(f"{served.url}/v1/track", json=viewed, auth=(BROWSER_KEY, ""), timeout=30)
        assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
        served.stop()
        assert "Traceback" not in served.logs()
    finally:
        if served.process.poll() is None:
            served.stop()
