"""Bad input gets its 4xx with a clear message, and nothing of the request is stored."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from .conftest import BROWSER_KEY, OTHER_KEY, SERVER_KEY, TRACK, Harness, harness

pytestmark = pytest.mark.anyio

AUTH = (SERVER_KEY, "")
JSON = {"Content-Type": "application/json"}


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


async def _refused(h: Harness, response: httpx.Response, status: int, words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert words in body["message"], body
    assert h.stored() == (0, 0), "a refused request must leave nothing behind"
    return body


CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    # (name, path, request options, status, words in the message)
    (
        "invalid JSON",
        "/v1/batch",
        {"content": b'{"batch": [', "headers": JSON},
        400,
        "not valid JSON",
    ),
    ("empty body", "/v1/track", {"content": b"", "headers": JSON}, 400, "empty"),
    (
        "non-UTF-8 bytes",
        "/v1/track",
        {"content": b'{"userId": "\xff\xfe"}', "headers": JSON},
        400,
        "UTF-8",
    ),
    (
        "a 10 MB body",
        "/v1/batch",
        {"content": b"[" + b" " * (10 * 1024 * 1024) + b"]", "headers": JSON},
        413,
        "limit",
    ),
    (
        "a 40 KB message",
        "/v1/track",
        {"content": orjson.dumps({**TRACK, "properties": {"x": "y" * 40_000}}), "headers": JSON},
        413,
        "32 KB",
    ),
    (
        "truncated gzip",
        "/v1/batch",
        {
            "content": gzip.compress(orjson.dumps({"batch": [TRACK]}))[:-8],
            "headers": {**JSON, "Content-Encoding": "gzip"},
        },
        400,
        "truncated",
    ),
    (
        "not gzip at all",
        "/v1/batch",
        {"content": b"plain", "headers": {**JSON, "Content-Encoding": "gzip"}},
        400,
        "not valid gzip",
    ),
    (
        "a gzip bomb",
        "/v1/batch",
        {
            "content": gzip.compress(b" " * (20 * 1024 * 1024)),
            "headers": {**JSON, "Content-Encoding": "gzip"},
        },
        413,
        "decompressed",
    ),
    (
        "XML",
        "/v1/track",
        {"content": b"<a/>", "headers": {"Content-Type": "application/xml"}},
        415,
        "application/json",
    ),
    (
        "brotli",
        "/v1/batch",
        {"content": b"{}", "headers": {**JSON, "Content-Encoding": "br"}},
        415,
        "Content-Encoding",
    ),
    (
        # RudderStack's Node SDK labels JSON as a form, so the label is accepted; the body is not.
        "a real form",
        "/v1/track",
        {"content": b"a=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        400,
        "JSON",
    ),
    (
        "JSON nested past the parser's limit",
        "/v1/batch",
        {"content": b'{"batch": [' + b"[" * 5000 + b"]" * 5000 + b"]}", "headers": JSON},
        400,
        "depth",
    ),
    (
        "a message nested too deep",
        "/v1/track",
        {"content": orjson.dumps({**TRACK, "properties": _nested(20)}), "headers": JSON},
        400,
        "deeper than 8",
    ),
    ("a track without an event", "/v1/track", {"json": {"userId": "u"}}, 400, "event name"),
    (
        "a batch that is not an array",
        "/v1/batch",
        {"json": {"batch": {"type": "track"}}},
        400,
        "array",
    ),
    # A count over the limit is a 400, as Segment answers a batch over its limits and as the
    # document's maxItems says; a body over 500 KB stays a 413.
    ("2,501 messages", "/v1/batch", {"json": {"batch": [{}] * 2501}}, 400, "2,500"),
    ("a top-level array", "/v1/track", {"json": [TRACK]}, 400, "JSON object"),
]


@pytest.mark.parametrize(
    ("name", "path", "options", "status", "words"), CASES, ids=[c[0] for c in CASES]
)
async def test_bad_bodies(
    tmp_path: Path, name: str, path: str, options: dict[str, Any], status: int, words: str
) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.post(path, auth=AUTH, **options)
        body = await _refused(h, response, status, words)
        assert body["code"]


async def test_the_field_at_fault_is_named(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.post("/v1/group", json={"userId": "u"}, auth=AUTH)
        body = await _refused(h, response, 400, "groupId")
        assert body["field"] == "groupId"


async def test_missing_and_unknown_keys_get_401(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        missing = await h.client.post("/v1/track", json=TRACK)
        await _refused(h, missing, 401, "no write key")
        assert missing.headers["WWW-Authenticate"].startswith("Basic")
        wrong = await h.client.post("/v1/track", json=TRACK, auth=("tw_not_a_key", ""))
        await _refused(h, wrong, 401, "invalid write key")
        garbled = await h.client.post(
            "/v1/track", json=TRACK, headers={"Authorization": "Basic !!!"}
        )
        await _refused(h, garbled, 401, "not valid Basic")
        bearer = await h.client.post("/v1/track", json=TRACK, headers={"Authorization": "Bearer x"})
        await _refused(h, bearer, 401, "Basic")


async def test_a_key_of_another_source_gets_403(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.put(
            "/api/v1/customers/u1", json={"email": "a@example.com"}, auth=("backend", OTHER_KEY)
        )
        body = await _refused(h, response, 403, "belongs to source 'billing'")
        assert body["field"] == "site_id"


async def test_a_source_limited_to_some_types_gets_403_for_others(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.post(
            "/v1/page", json={"userId": "u", "name": "Pricing"}, auth=(OTHER_KEY, "")
        )
        await _refused(h, response, 403, "not page")


async def test_a_browser_key_may_not_identify_or_name_a_user(tmp_path: Path) -> None:
    batch = [
        {"type": "page", "anonymousId": "a", "name": "Pricing"},
        {"type": "identify", "anonymousId": "a", "traits": {"email": "a@example.com"}},
    ]
    async with harness(tmp_path) as h:
        identify = await h.client.post("/v1/batch", json={"batch": batch}, auth=(BROWSER_KEY, ""))
        body = await _refused(
            h,
            identify,
            403,
            "may send page, track (anonymous only), at most 100 events/s, not identify",
        )
        assert body["field"] == "batch[1].type"
        named = await h.client.post("/v1/track", json=TRACK, auth=(BROWSER_KEY, ""))
        await _refused(h, named, 403, "must be anonymous")


async def test_unknown_routes_and_methods_answer_json(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        missing = await h.client.get("/v2/nothing")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        wrong = await h.client.get("/v1/track")
        assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


async def test_a_message_that_cannot_be_normalised_is_blocked_not_a_500(tmp_path: Path) -> None:
    odd = {
        **TRACK,
        "messageId": "odd",
        "timestamp": "1970-01-01T00:00:00Z",
        "sentAt": "9999-01-01T00:00:00Z",
    }
    async with harness(tmp_path) as h:
        response = await h.client.post(
            "/v1/batch", json={"batch": [odd, {**TRACK, "messageId": "fine"}]}, auth=AUTH
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"], body["blocked"]) == (1, 1)
        assert "too far apart to correct clock skew" in body["violations"][0]["message"]
