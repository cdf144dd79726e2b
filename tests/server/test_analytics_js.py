"""analytics.js's routes and CORS in process: /v1/t, p, i, g, a, s and b, origins per source.

The bodies are shaped as @segment/analytics-next sends them (segmentio/analytics-next,
packages/browser/src/plugins/segmentio/normalize.ts and batched-dispatcher.ts): `writeKey`, a
`sentAt` per call (one per batch for /b), `userId: null` while anonymous, `_metadata`, and
`Content-Type: text/plain`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from trackwell.io.config import ConfigError, load_settings
from trackwell.server.auth import hash_key

from .conftest import SERVER_KEY, harness

pytestmark = pytest.mark.anyio

SITE_KEY = "tw_test_site_key"  # analytics.js on the shop's pages: identified calls allowed
WEB_KEY = "tw_test_snippet_key"  # an anonymous-only browser key (any origin, by default)
SHOP = "https://shop.example"
BLOG = "https://blog.example"
EVIL = "https://evil.example"
SOURCES: dict[str, dict[str, Any]] = {
    "backend": {"key_hashes": [hash_key(SERVER_KEY)]},
    "site": {
        "key_hashes": [hash_key(SITE_KEY)],
        "allowed_origins": [SHOP],
        "anonymous_only": False,
    },
    "blog": {
        "key_hashes": [hash_key(WEB_KEY)],
        "allowed_origins": [BLOG],
        "anonymous_only": True,
    },
}
TEXT = {"Content-Type": "text/plain"}
NOW = datetime.now(UTC)


def ajs(kind: str, message_id: str, **fields: Any) -> dict[str, Any]:
    """A call as analytics-next's Segment.io plugin posts it."""
    at = NOW.isoformat().replace("+00:00", "Z")
    return {
        "type": kind,
        "messageId": message_id,
        "anonymousId": "anon-ajs-1",
        "userId": None,
        "timestamp": at,
        "sentAt": at,
        "writeKey": SITE_KEY,
        "integrations": {},
        "context": {
            "library": {"name": "analytics.js", "version": "npm:next-1.84.3"},
            "page": {"path": "/pricing", "url": f"{SHOP}/pricing", "title": "Pricing"},
        },
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
        **fields,
    }


CALLS = {
    "t": ajs("track", "m-t", event="Feature Used", properties={"feature_name": "projects"}),
    "p": ajs("page", "m-p", name="Pricing", properties={"path": "/pricing"}),
    "i": ajs(
        "identify",
        "m-i",
        userId="u-ajs",
        traits={"email": "a@example.com", "created_at": 1767600000},
    ),
    "g": ajs("group", "m-g", userId="u-ajs", groupId="acme", traits={"name": "Acme"}),
    "a": ajs("alias", "m-a", userId="u-ajs", previousId="anon-ajs-1"),
    "s": ajs("screen", "m-s", name="Home"),
}
KINDS = {"t": "track", "p": "page", "i": "identify", "g": "group", "a": "alias", "s": "screen"}


def text(body: Any) -> bytes:
    return orjson.dumps(body)


@pytest.mark.parametrize("letter", list(CALLS))
async def test_each_short_path_stores_its_type_from_a_text_plain_body(
    tmp_path: Path, letter: str
) -> None:
    async with harness(tmp_path, sources=SOURCES) as h:
        response = await h.client.post(
            f"/v1/{letter}", content=text(CALLS[letter]), headers={**TEXT, "Origin": SHOP}
        )
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == SHOP
        assert "Origin" in response.headers["vary"]
        # analytics-next waits out a 429's Retry-After, which a page reads only when exposed.
        assert "retry-after" in response.headers["access-control-expose-headers"].lower()
        entry = h.store.get(f"m-{letter}")
        assert entry is not None and entry.message["type"] == KINDS[letter]
        assert "writeKey" not in entry.message  # the key is never stored
        assert entry.message["anonymousId"] == "anon-ajs-1"


async def test_the_batch_path_takes_the_envelope_of_the_batching_strategy(tmp_path: Path) -> None:
    # The batched dispatcher strips each call's sentAt and sends one for the batch; a client
    # clock an hour fast is corrected through it.
    now = datetime.now(UTC)  # not NOW: the module may have been imported minutes ago
    ahead = (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    items = []
    for letter, call in CALLS.items():
        item = {k: v for k, v in call.items() if k != "sentAt"}
        items.append({**item, "timestamp": ahead, "messageId": f"b-{letter}"})
    body = {"writeKey": SITE_KEY, "batch": items, "sentAt": ahead}
    async with harness(tmp_path, sources=SOURCES) as h:
        response = await h.client.post(
            "/v1/b", content=text(body), headers={**TEXT, "Origin": SHOP}
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        # The example plan plans no screens: that one is kept, blocked, with its reason.
        assert (answer["accepted"], answer["blocked"]) == (5, 1), answer["violations"]
        assert [v["code"] for v in answer["violations"]] == ["unplanned_screen"]
        for letter, kind in KINDS.items():
            entry = h.store.get(f"b-{letter}")
            assert entry is not None and entry.message["type"] == kind
            stamped = datetime.fromisoformat(entry.message["timestamp"])
            assert abs(stamped - now) < timedelta(minutes=1)  # skew corrected by the batch sentAt


async def test_the_key_as_basic_user_as_analytics_next_1_84_sends_it(tmp_path: Path) -> None:
    basic = base64.b64encode(f"{SITE_KEY}:".encode()).decode()
    headers = {**TEXT, "Origin": SHOP, "Authorization": f"Basic {basic}"}
    async with harness(tmp_path, sources=SOURCES) as h:
        response = await h.client.post("/v1/t", content=text(CALLS["t"]), headers=headers)
        assert response.status_code == 200, response.text
        assert h.store.get("m-t") is not None


async def test_a_missing_or_wrong_key_is_401_and_stores_nothing(tmp_path: Path) -> None:
    anonymous = {k: v for k, v in CALLS["t"].items() if k != "writeKey"}
    async with harness(tmp_path, sources=SOURCES) as h:
        missing = await h.client.post(
            "/v1/t", content=text(anonymous), headers={**TEXT, "Origin": SHOP}
        )
        wrong = await h.client.post(
            "/v1/b",
            content=text({"writeKey": "tw_nope", "batch": [anonymous]}),
            headers={**TEXT, "Origin": SHOP},
        )
        assert (missing.status_code, wrong.status_code) == (401, 401)
        assert "no write key" in missing.json()["message"]
        assert wrong.json()["message"] == "invalid write key"
        # The page can read why (the origin is one a source allows).
        assert missing.headers["access-control-allow-origin"] == SHOP
        assert h.stored() == (0, 0)


async def test_identified_calls_from_an_analytics_js_source_are_accepted(tmp_path: Path) -> None:
    # identify(userId) and then every call carries userId: a source for analytics.js must take
    # them, or the library drops them on the 403 (not retryable for it).
    tracked = {**CALLS["t"], "userId": "u-ajs", "messageId": "after-identify"}
    async with harness(tmp_path, sources=SOURCES) as h:
        for body in (CALLS["i"], tracked):
            response = await h.client.post(
                f"/v1/{body['type'][0]}", content=text(body), headers={**TEXT, "Origin": SHOP}
            )
            assert response.status_code == 200, response.text
        timeline = h.store.timeline("u-ajs")
        assert "anon-ajs-1" in timeline.anonymous_ids  # the visitor is tied to the person
        assert {e.message["messageId"] for e in timeline.entries} >= {"m-i", "after-identify"}


async def test_an_anonymous_only_browser_source_still_refuses_a_user_id(tmp_path: Path) -> None:
    tracked = {**CALLS["t"], "writeKey": WEB_KEY, "userId": "u-ajs"}
    async with harness(tmp_path, sources=SOURCES) as h:
        response = await h.client.post(
            "/v1/t", content=text(tracked), headers={**TEXT, "Origin": BLOG}
        )
        assert response.status_code == 403 and response.json()["field"] == "userId"
        assert "anonymous_only = false" in response.json()["message"]  # what analytics.js needs


async def test_a_preflight_is_answered_for_the_origins_sources_allow(tmp_path: Path) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with harness(tmp_path, sources=SOURCES) as h:
        for origin in (SHOP, BLOG):
            response = await h.client.options("/v1/b", headers={**preflight, "Origin": origin})
            assert response.status_code == 204
            assert response.headers["access-control-allow-origin"] == origin
            assert "POST" in response.headers["access-control-allow-methods"]
            assert response.headers["access-control-allow-headers"] == "authorization,content-type"
        refused = await h.client.options("/v1/t", headers={**preflight, "Origin": EVIL})
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
        assert EVIL in refused.json()["message"]


async def test_a_request_from_an_origin_its_source_does_not_allow_is_refused(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, sources=SOURCES) as h:
        # Allowed for the blog's key, not for the site's: refused, readable, named.
        other = await h.client.post(
            "/v1/t", content=text(CALLS["t"]), headers={**TEXT, "Origin": BLOG}
        )
        assert other.status_code == 403
        problem = other.json()
        assert problem["code"] == "origin_not_allowed" and problem["field"] == "Origin"
        assert "source 'site'" in problem["message"] and BLOG in problem["message"]
        assert other.headers["access-control-allow-origin"] == BLOG
        # No source allows it at all: the same refusal.
        evil = await h.client.post(
            "/v1/t", content=text(CALLS["t"]), headers={**TEXT, "Origin": EVIL}
        )
        assert evil.status_code == 403 and evil.json()["code"] == "origin_not_allowed"
        # A server key lists no origins: a web page may not use it.
        server = await h.client.post(
            "/v1/track", json=CALLS["t"] | {"writeKey": SERVER_KEY}, headers={"Origin": SHOP}
        )
        assert server.status_code == 403 and "source 'backend'" in server.json()["message"]
        assert h.stored() == (0, 0)
        # Without an Origin (a server, not a browser) the server key works as before.
        plain = await h.client.post("/v1/track", json=CALLS["t"] | {"writeKey": SERVER_KEY})
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


async def test_a_browser_key_without_allowed_origins_takes_any_origin(tmp_path: Path) -> None:
    sources = {"web": {"key_hashes": [hash_key(WEB_KEY)], "anonymous_only": True}}
    page = {**CALLS["p"], "writeKey": WEB_KEY}
    async with harness(tmp_path, sources=sources) as h:
        preflight = await h.client.options(
            "/v1/p", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.headers["access-control-allow-origin"] == EVIL
        response = await h.client.post(
            "/v1/p", content=text(page), headers={**TEXT, "Origin": EVIL}
        )
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == EVIL


async def test_cors_is_only_for_the_ingestion_apis(tmp_path: Path) -> None:
    async with harness(tmp_path, sources=SOURCES) as h:
        for path in ("/healthz", "/api/people", "/trackwell.js"):
            response = await h.client.get(path, headers={"Origin": SHOP})
            assert "access-control-allow-origin" not in response.headers, path
        preflight = await h.client.options(
            "/api/people", headers={"Origin": SHOP, "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in preflight.headers
        cio = await h.client.options(
            "/api/v1/customers/u-1",
            headers={"Origin": SHOP, "Access-Control-Request-Method": "PUT"},
        )
        assert cio.headers["access-control-allow-origin"] == SHOP


def test_allowed_origins_are_checked_and_need_an_explicit_anonymous_only(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    config.write_text('[sources.site]\nallowed_origins = ["https://shop.example/"]\n')
    with pytest.raises(ConfigError, match=r"allowed_origins\[0\].*trailing slash"):
        load_settings(config=config)
    config.write_text('[sources.site]\nallowed_origins = "https://shop.example"\n')
    with pytest.raises(ConfigError, match="must be a list"):
        load_settings(config=config)
    config.write_text('[sources.site]\nallowed_origins = ["https://shop.example"]\n')
    with pytest.raises(ConfigError, match=r"anonymous_only = true .* anonymous_only = false"):
        load_settings(config=config)
    config.write_text(
        '[sources.site]\nallowed_origins = ["https://shop.example", "http://localhost:3000"]\n'
        "anonymous_only = false\n"
        '[sources.web]\nallowed_origins = ["*"]\nanonymous_only = true\n'
    )
    settings = load_settings(config=config)
    assert settings.sources["site"]["allowed_origins"][1] == "http://localhost:3000"


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("a delete", {"type": "track", "userId": "victim", "event": "User Deleted"}, "event"),
        (
            "a suppression",
            {"type": "track", "userId": "victim", "event": "User Suppressed"},
            "event",
        ),
        (
            "an address by Customer.io id",
            {
                "type": "track",
                "event": "Feature Used",
                "context": {
                    "externalIds": [
                        {"id": "abc", "type": "cio_id", "collection": "users", "encoding": "none"}
                    ]
                },
            },
            "context.externalIds",
        ),
        (
            "a merge of two people",
            {"type": "alias", "userId": "me", "previousId": "victim"},
            "previousId",
        ),
    ],
)
async def test_a_public_key_cannot_act_on_other_people(
    tmp_path: Path, name: str, body: dict[str, Any], field: str
) -> None:
    # The key is in every page's source: without an Origin header (curl) the origin check does not
    # apply, so what the key may do must be limited by the key itself.
    message = {"writeKey": SITE_KEY, "anonymousId": "anon-x", "messageId": "m-x", **body}
    async with harness(tmp_path, sources=SOURCES) as h:
        path = f"/v1/{body['type'][0]}"
        response = await h.client.post(path, content=text(message), headers=TEXT)
        assert response.status_code == 403, name
        assert response.json()["field"] == field and "public key" in response.json()["message"]
        assert h.stored() == (0, 0)


async def test_a_public_key_may_tie_its_own_anonymous_id(tmp_path: Path) -> None:
    async with harness(tmp_path, sources=SOURCES) as h:
        response = await h.client.post(
            "/v1/a", content=text(CALLS["a"]), headers={**TEXT, "Origin": SHOP}
        )
        assert response.status_code == 200, response.text
        assert "anon-ajs-1" in h.store.timeline("u-ajs").anonymous_ids


async def test_the_customerio_api_takes_no_public_key(tmp_path: Path) -> None:
    basic = base64.b64encode(f"site:{SITE_KEY}".encode()).decode()
    async with harness(tmp_path, sources=SOURCES) as h:
        response = await h.client.delete(
            "/api/v1/customers/victim", headers={"Authorization": f"Basic {basic}"}
        )
        assert response.status_code == 403 and response.json()["field"] == "api_key"
        assert h.stored() == (0, 0)
