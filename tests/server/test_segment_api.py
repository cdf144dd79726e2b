"""The Segment-compatible API in process: every message type, batches, keys, and the answer."""

from __future__ import annotations

import base64
import gzip
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from .conftest import BROWSER_KEY, QUICK_KEY, SERVER_KEY, TRACK, harness

pytestmark = pytest.mark.anyio

AUTH = (SERVER_KEY, "")
MESSAGES = {
    "identify": {
        "userId": "user-1",
        "traits": {"email": "ada@example.com", "created_at": 1767600000},
    },
    "track": TRACK,
    "page": {"anonymousId": "anon-1", "name": "Pricing"},
    "screen": {"userId": "user-1", "name": "Home"},
    "group": {"userId": "user-1", "groupId": "acme", "traits": {"name": "Acme"}},
    "alias": {"userId": "user-1", "previousId": "anon-9"},
}


@pytest.mark.parametrize("kind", list(MESSAGES))
async def test_each_single_endpoint_stores_its_type(tmp_path: Path, kind: str) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.post(
            f"/v1/{kind}", json={**MESSAGES[kind], "messageId": f"m-{kind}"}, auth=AUTH
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["accepted"] + body["repaired"] + body["blocked"] == 1
        entry = h.store.get(f"m-{kind}")
        assert entry is not None and entry.message["type"] == kind


async def test_a_200_reports_verdicts_and_violations_with_their_place(tmp_path: Path) -> None:
    batch = [
        {**TRACK, "messageId": "ok"},
        {**TRACK, "messageId": "typo", "event": "Acount Created"},
        {
            **TRACK,
            "messageId": "card",
            "properties": {**TRACK["properties"], "card": "4242 4242 4242 4242"},
        },
    ]
    async with harness(tmp_path) as h:
        response = await h.client.post("/v1/batch", json={"batch": batch}, auth=AUTH)
        body = response.json()
        assert (body["accepted"], body["repaired"], body["blocked"]) == (1, 1, 1)
        typo = next(v for v in body["violations"] if v["code"] == "unplanned_event")
        assert (
            typo["index"] == 1
            and typo["messageId"] == "typo"
            and typo["suggestion"] == "Account Created"
        )
        assert "4242" not in response.text
        assert h.store.count() == 2 and h.store.count_blocked() == 1


async def test_the_key_may_be_in_the_body_and_is_never_stored(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.post(
            "/v1/batch",
            json={
                "writeKey": SERVER_KEY,
                "batch": [{**TRACK, "messageId": "k", "writeKey": SERVER_KEY}],
            },
        )
        assert response.status_code == 200
        single = await h.client.post(
            "/v1/track", json={**TRACK, "messageId": "k2", "writeKey": QUICK_KEY}
        )
        assert single.status_code == 200
        for message_id in ("k", "k2"):
            entry = h.store.get(message_id)
            assert entry is not None and "writeKey" not in entry.message


async def test_gzip_bodies_and_batch_wide_sent_at_and_context(tmp_path: Path) -> None:
    document = {
        "batch": [{**TRACK, "messageId": "gz"}],
        "context": {"ip": "203.0.113.9"},
        "sentAt": "2026-01-05T10:00:01Z",
    }
    async with harness(tmp_path) as h:
        response = await h.client.post(
            "/v1/batch",
            content=gzip.compress(orjson.dumps(document)),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            auth=AUTH,
        )
        assert response.status_code == 200, response.text
        entry = h.store.get("gz")
        assert entry is not None
        assert entry.message["context"]["ip"] == "203.0.113.9"
        assert entry.message["sentAt"].startswith("2026-01-05T10:00:01")


async def test_a_retried_batch_is_stored_once(tmp_path: Path) -> None:
    batch = {"batch": [{**TRACK, "messageId": "same"}]}
    async with harness(tmp_path) as h:
        first = (await h.client.post("/v1/batch", json=batch, auth=AUTH)).json()
        second = (await h.client.post("/v1/batch", json=batch, auth=AUTH)).json()
        assert first["duplicates"] == 0 and second["duplicates"] == 1
        assert h.store.count() == 1


async def test_a_browser_key_may_travel_in_the_query_but_a_server_key_may_not(
    tmp_path: Path,
) -> None:
    page = {"batch": [{"type": "page", "anonymousId": "anon-1", "name": "Pricing"}]}
    async with harness(tmp_path) as h:
        ok = await h.client.post(
            f"/v1/batch?writeKey={BROWSER_KEY}",
            content=orjson.dumps(page),
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
        assert ok.status_code == 200, ok.text
        refused = await h.client.post(f"/v1/batch?writeKey={SERVER_KEY}", json=page)
        assert refused.status_code == 403
        assert "only a browser key" in refused.json()["message"]


async def test_many_concurrent_requests_share_transactions_and_all_land(tmp_path: Path) -> None:
    import anyio

    async with harness(tmp_path) as h:

        async def send(n: int) -> None:
            batch = [{**TRACK, "messageId": f"c-{n}-{i}"} for i in range(50)]
            response = await h.client.post("/v1/batch", json={"batch": batch}, auth=AUTH)
            assert response.status_code == 200

        async with anyio.create_task_group() as group:
            for n in range(40):
                group.start_soon(send, n)
        assert h.store.count() == 2000
        assert h.gateway.writer.stats.transactions < 40  # grouped, not one per request


async def test_basic_auth_with_the_key_as_user_name(tmp_path: Path) -> None:
    header = "Basic " + base64.b64encode(f"{SERVER_KEY}:".encode()).decode()
    async with harness(tmp_path) as h:
        response = await h.client.post("/v1/track", json=TRACK, headers={"Authorization": header})
        assert response.status_code == 200


async def test_rudderstack_node_sdk_request_as_its_source_builds_it(tmp_path: Path) -> None:
    # rudder-sdk-node `_flushBatch`: POST {dataPlaneUrl}/v1/batch, the write key as the Basic
    # user with an empty password, a gzipped body that axios labels as a form, and an envelope
    # {batch, timestamp, sentAt}; `enqueue` stamps each message's call time as originalTimestamp
    # (no timestamp) and adds channel, _metadata and, for identify, context.traits.
    called = "2026-01-05T09:59:58.500Z"
    message = {
        "userId": "user-1",
        "anonymousId": "anon-r",
        "traits": {"email": "ada@example.com", "created_at": 1767600000},
        "context": {
            "traits": {"email": "ada@example.com", "created_at": 1767600000},
            "library": {"name": "analytics-node", "version": "3.1.1"},
        },
        "type": "identify",
        "channel": "server",
        "_metadata": {"nodeVersion": "20.20.2"},
        "originalTimestamp": called,
        "messageId": "rudder-1",
        "sentAt": "2026-01-05T10:00:00.500Z",
    }
    envelope = {
        "batch": [message],
        "timestamp": "2026-01-05T10:00:00.500Z",  # when the batch was flushed, not an action time
        "sentAt": "2026-01-05T10:00:00.500Z",
    }
    async with harness(tmp_path) as h:
        response = await h.client.post(
            "/v1/batch",
            content=gzip.compress(orjson.dumps(envelope)),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Encoding": "gzip",
                "User-Agent": "analytics-node/3.1.1",
                "Accept": "application/json, text/plain, */*",
                "Authorization": "Basic " + base64.b64encode(f"{SERVER_KEY}:".encode()).decode(),
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1, response.json()
        entry = h.store.get("rudder-1")
        assert entry is not None and entry.verdict == "accepted", entry
        stored = entry.message
        assert [v["code"] for v in entry.violations] == []
        # The call time, corrected by the client's own sentAt - originalTimestamp (2 s).
        received = datetime.fromisoformat(stored["receivedAt"])
        assert datetime.fromisoformat(stored["timestamp"]) == received - timedelta(seconds=2)
        assert datetime.fromisoformat(stored["originalTimestamp"]) == datetime.fromisoformat(called)
        assert (stored["channel"], stored["_metadata"]) == ("server", {"nodeVersion": "20.20.2"})
        assert h.store.timeline("user-1").anonymous_ids == ("anon-r",)
