"""Refusals people can see: count headers on every answer, strict mode per source or request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trackwell.io.config import ConfigError, parse_sources
from trackwell.server.auth import KeyRing, hash_key

from .conftest import SERVER_KEY, SOURCES, TRACK, harness

pytestmark = pytest.mark.anyio

STRICT_KEY = "tw_test_strict_key"
STRICT_SOURCES: dict[str, Any] = {
    **SOURCES,
    "dev": {"key_hashes": [hash_key(STRICT_KEY)], "strict": True},
}
AUTH = (SERVER_KEY, "")
TYPO = {**TRACK, "event": "Acount Created"}  # unplanned: blocked by the example plan's policy
CARD = {**TRACK, "properties": {**TRACK["properties"], "card": "4242 4242 4242 4242"}}


def batch(*messages: dict[str, Any], prefix: str = "m") -> dict[str, Any]:
    return {"batch": [{**m, "messageId": f"{prefix}{i}"} for i, m in enumerate(messages)]}


async def test_every_answer_counts_blocked_and_repaired_in_headers(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        mixed = await h.client.post("/v1/batch", json=batch(TRACK, TYPO, CARD), auth=AUTH)
        assert mixed.status_code == 200
        assert mixed.headers["X-Trackwell-Blocked"] == "1"
        assert mixed.headers["X-Trackwell-Repaired"] == "1"
        refused = await h.client.post(
            "/v1/batch", json=batch(TYPO, TYPO, TYPO, prefix="all"), auth=AUTH
        )
        # Segment semantics: still 200, but nobody reading only the status line misses it now.
        assert refused.status_code == 200
        assert refused.headers["X-Trackwell-Blocked"] == "3"
        single = await h.client.post("/v1/track", json={**TYPO, "messageId": "one"}, auth=AUTH)
        assert single.headers["X-Trackwell-Blocked"] == "1"
        clean = await h.client.post("/v1/track", json={**TRACK, "messageId": "two"}, auth=AUTH)
        assert clean.headers["X-Trackwell-Blocked"] == "0"
        cio = await h.client.post(
            "/api/v1/customers/user-1/events",
            json={"name": "Acount Created", "data": {}},
            auth=("backend", SERVER_KEY),
        )
        assert cio.status_code == 200 and cio.headers["X-Trackwell-Blocked"] == "1"


async def test_browsers_may_read_the_count_headers(tmp_path: Path) -> None:
    # A page may only use a source that lists its origin (a server key from a page is a 403).
    app = {
        "key_hashes": [hash_key(STRICT_KEY)],
        "allowed_origins": ["https://app.example.com"],
        "anonymous_only": False,
    }
    async with harness(tmp_path, sources={**SOURCES, "app": app}) as h:
        response = await h.client.post(
            "/v1/track",
            json={**TYPO, "messageId": "cors"},
            auth=(STRICT_KEY, ""),
            headers={"Origin": "https://app.example.com"},
        )
        assert response.status_code == 200 and response.headers["X-Trackwell-Blocked"] == "1"
        exposed = response.headers["Access-Control-Expose-Headers"].lower()
        assert "x-trackwell-blocked" in exposed and "x-trackwell-repaired" in exposed


async def test_a_strict_source_refuses_a_request_with_a_blocked_message_whole(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, sources=STRICT_SOURCES) as h:
        response = await h.client.post(
            "/v1/batch", json=batch(TRACK, TYPO, CARD), auth=(STRICT_KEY, "")
        )
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "strict_mode" and "1 of the 3" in body["message"]
        assert (body["accepted"], body["repaired"], body["blocked"]) == (1, 1, 1)
        typo = next(v for v in body["violations"] if v["code"] == "unplanned_event")
        assert (typo["index"], typo["messageId"], typo["path"]) == (1, "m1", "event")
        assert typo["message"]
        assert response.headers["X-Trackwell-Blocked"] == "1"
        assert "4242" not in response.text
        # Nothing of it goes on; all of it is kept, blocked, with its reasons.
        assert h.store.count() == 0 and h.store.count_blocked() == 3
        kept = h.store.stored_violations(code="strict_mode")
        assert {m.message["messageId"] for m in kept} == {"m0", "m2"}
        # The corrected request is not a duplicate of the refused one.
        fixed = await h.client.post(
            "/v1/batch", json=batch(TRACK, TRACK, CARD), auth=(STRICT_KEY, "")
        )
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["duplicates"] == 0 and h.store.count() == 3
        # The refusal is seen where people look: metrics and the per-source rollups.
        text = (await h.client.get("/metrics")).text
        assert 'trackwell_strict_refusals_total{source="dev"} 1.0' in text
        assert (
            'trackwell_blocking_violations_total{code="unplanned_event",source="dev"} 1.0' in text
        )
        assert 'source="dev",verdict="blocked"' in text
        h.store.flush_rollups()
        today = int(datetime.now(UTC).timestamp() // 86400)
        rows = [r for r in h.store.volume(today - 1, today + 1) if r.source == "dev"]
        assert sum(r.blocked for r in rows) == 3 and sum(r.received for r in rows) == 6


async def test_a_strict_source_takes_a_clean_request(tmp_path: Path) -> None:
    async with harness(tmp_path, sources=STRICT_SOURCES) as h:
        response = await h.client.post("/v1/track", json=TRACK, auth=(STRICT_KEY, ""))
        assert response.status_code == 200 and h.store.count() == 1


async def test_the_strict_mode_header_on_segment_and_customerio_routes(tmp_path: Path) -> None:
    op = {"type": "person", "identifiers": {"id": "u1"}, "action": "event"}
    cio_batch = {
        "batch": [
            {**op, "name": "Feature Used", "attributes": {"feature_name": "reports"}},
            {**op, "name": "Acount Created"},
        ]
    }
    cio = ("backend", SERVER_KEY)
    async with harness(tmp_path) as h:
        lenient = await h.client.post("/api/v2/batch", json=cio_batch, auth=cio)
        assert lenient.status_code == 200 and h.store.count() == 1
        for value in ("1", "true", "TRUE"):
            strict = await h.client.post(
                "/api/v2/batch", json=cio_batch, auth=cio, headers={"X-Strict-Mode": value}
            )
            assert strict.status_code == 400, value
            blocking = [v for v in strict.json()["violations"] if v["effect"] == "block"]
            assert [(v["index"], v["code"]) for v in blocking] == [(1, "unplanned_event")]
        segment = await h.client.post(
            "/v1/track",
            json={**TYPO, "messageId": "s1"},
            auth=AUTH,
            headers={"X-Strict-Mode": "1"},
        )
        assert segment.status_code == 400 and segment.json()["code"] == "strict_mode"
        off = await h.client.post(
            "/v1/track", json={**TYPO, "messageId": "s2"}, auth=AUTH, headers={"X-Strict-Mode": "0"}
        )
        assert off.status_code == 200
        assert h.store.count() == 1  # only the lenient request's good message


def test_strict_is_read_from_the_source_table(tmp_path: Path) -> None:
    ring = KeyRing.from_config(STRICT_SOURCES)
    assert ring.sources["dev"].strict and not ring.sources["backend"].strict
    assert "strict" in ring.sources["dev"].describe()
    with pytest.raises(ConfigError, match=r"sources\.dev\.strict must be true or false"):
        parse_sources(tmp_path / "trackwell.toml", {"dev": {"strict": "yes"}})


async def test_the_headers_and_strict_mode_are_in_the_openapi_document(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        document = (await h.client.get("/openapi.json")).json()
    for path, method in (("/v1/batch", "post"), ("/api/v2/batch", "post")):
        operation = document["paths"][path][method]
        assert set(operation["responses"]["200"]["headers"]) == {
            "X-Trackwell-Blocked",
            "X-Trackwell-Repaired",
        }
        assert "X-Strict-Mode" in {p["name"] for p in operation["parameters"]}
        assert "strict_mode" in operation["responses"]["400"]["description"]
