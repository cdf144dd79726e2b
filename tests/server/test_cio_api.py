"""The Customer.io Track API (v1 and v2) in process: each call lands as its Segment message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trackwell.core.operations import DELIVERY_METRIC
from trackwell.server import cio_map
from trackwell.server.auth import hash_key
from trackwell.server.cio_map import MapError

from .conftest import SERVER_KEY, harness

pytestmark = pytest.mark.anyio

CIO = ("backend", SERVER_KEY)
# Who a privacy request made with the server key is recorded as: the key, by its hash prefix.
ACTOR = f"key:backend/{hash_key(SERVER_KEY)[:19]}"


async def test_v1_calls_become_segment_messages(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        c = h.client
        assert (
            await c.put(
                "/api/v1/customers/user-7",
                json={
                    "email": "u7@example.com",
                    "created_at": 1767600000,
                    "anonymous_id": "anon-7",
                },
                auth=CIO,
            )
        ).status_code == 200
        assert (
            await c.post(
                "/api/v1/customers/user-7/events",
                json={
                    "name": "Email Verified",
                    "data": {"verification_method": "link"},
                    "id": "01HV0000000000000000000001",
                    "timestamp": 1767600100,
                },
                auth=CIO,
            )
        ).status_code == 200
        assert (
            await c.post(
                "/api/v1/customers/user-7/events",
                json={"type": "page", "name": "Pricing", "data": {}},
                auth=CIO,
            )
        ).status_code == 200
        assert (
            await c.post(
                "/api/v1/events",
                json={
                    "name": "Page Viewed",
                    "anonymous_id": "anon-8",
                    "data": {"page_name": "Pricing"},
                },
                auth=CIO,
            )
        ).status_code == 200
        assert (
            await c.put(
                "/api/v1/customers/user-7/devices",
                json={"device": {"id": "tok-1", "platform": "ios"}},
                auth=CIO,
            )
        ).status_code == 200
        assert (
            await c.delete("/api/v1/customers/user-7/devices/tok-1", auth=CIO)
        ).status_code == 200
        timeline = h.store.timeline("user-7")
        kinds = [
            (e.message.get("type"), e.message.get("event") or e.message.get("name"))
            for e in timeline.entries
        ]
        assert ("identify", None) in kinds
        assert ("track", "Email Verified") in kinds
        assert ("page", "Pricing") in kinds
        for semantic in ("Device Created or Updated", "Device Deleted"):
            assert ("track", semantic) in kinds  # operations: stored, never blocked as unplanned
        assert (
            h.store.get("01HV0000000000000000000001") is not None
        )  # Customer.io's id is the messageId
        assert timeline.profile is not None and "anon-7" in timeline.profile.anonymous_ids
        assert (await c.post("/api/v1/customers/user-7/suppress", auth=CIO)).status_code == 200
        assert (
            await c.post(
                "/api/v1/merge_customers",
                json={"primary": {"id": "user-7"}, "secondary": {"id": "anon-8"}},
                auth=CIO,
            )
        ).status_code == 200
        assert (await c.delete("/api/v1/customers/user-7", auth=CIO)).status_code == 200
        # Suppressed, then deleted: privacy requests, not messages; the person is erased.
        assert h.store.timeline("user-7").entries == ()
        assert h.store.get("01HV0000000000000000000001") is None
        requests = h.store.privacy_requests()
        assert [(r.kind, r.actor) for r in requests] == [
            ("erase", ACTOR),
            ("suppress", ACTOR),
        ]


async def test_an_id_with_a_slash_stays_one_id(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.put(
            "/api/v1/customers/team%2Fuser", json={"email": "t@example.com"}, auth=CIO
        )
        assert response.status_code == 200
        assert h.store.timeline("team/user").entries


async def test_v2_batch_maps_every_operation_and_keeps_unmappable_ones_blocked(
    tmp_path: Path,
) -> None:
    ops: list[Any] = [
        {
            "type": "person",
            "identifiers": {"id": "u9"},
            "action": "identify",
            "attributes": {"email": "u9@example.com", "created_at": 1767600000},
        },
        {
            "type": "person",
            "identifiers": {"id": "u9"},
            "action": "event",
            "name": "Feature Used",
            "attributes": {"feature_name": "reports"},
            "timestamp": 1767600200,
        },
        {"type": "person", "identifiers": {"id": "u9"}, "action": "page", "name": "Pricing"},
        {
            "type": "person",
            "identifiers": {"id": "u9"},
            "action": "add_relationships",
            "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}],
        },
        {
            "type": "object",
            "identifiers": {"object_type_id": "1", "object_id": "acme"},
            "action": "identify",
            "attributes": {"name": "Acme"},
            "cio_relationships": [{"identifiers": {"id": "u9"}}],
        },
        {"type": "person", "identifiers": {"id": "u9"}, "action": "fly"},
    ]
    async with harness(tmp_path) as h:
        response = await h.client.post("/api/v2/batch", json={"batch": ops}, auth=CIO)
        body = response.json()
        assert response.status_code == 200
        assert body["accepted"] + body["repaired"] == 5
        assert body["blocked"] == 1
        bad = [v for v in body["violations"] if v["code"] == "malformed"]
        assert bad and bad[0]["path"] == "batch[5].action"
        groups = [e for e in h.store.timeline("u9").entries if e.message.get("type") == "group"]
        assert {g.message["groupId"] for g in groups} == {"acme"}


async def test_v1_errors_name_the_field(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.post("/api/v1/customers/u1/events", json={"data": {}}, auth=CIO)
        assert response.status_code == 400 and response.json()["field"] == "name"
        missing = await h.client.put("/api/v1/customers/u1", json={})
        assert missing.status_code == 401
        unknown = await h.client.post("/api/v1/customers/u1/nothing", json={}, auth=CIO)
        assert unknown.status_code == 404
        assert h.stored() == (0, 0)
        card = await h.client.post("/api/v1/customers/4111111111111111/nothing", json={}, auth=CIO)
        assert card.status_code == 404 and "4111111111111111" not in card.text
        assert "/customers/" in card.json()["message"]


def test_merge_needs_both_people() -> None:
    with pytest.raises(MapError) as error:
        cio_map.merge({"primary": {"id": "a"}, "secondary": {}})
    assert error.value.field == "secondary"


def test_an_anonymous_v2_event() -> None:
    [message] = cio_map.operation(
        {
            "type": "person",
            "identifiers": {"anonymous_id": "an"},
            "action": "event",
            "name": "Page Viewed",
        },
        "",
    )
    assert message == {
        "type": "track",
        "event": "Page Viewed",
        "properties": {},
        "anonymousId": "an",
    }


def test_delivery_metrics_become_a_semantic_event() -> None:
    [message] = cio_map.operation(
        {
            "type": "delivery",
            "action": "event",
            "identifiers": {"id": "d1"},
            "name": "opened",
            "attributes": {"device_token": "t"},
        },
        "",
    )
    # Data Pipelines' `Report Delivery Event`: its property names, the push token as the
    # recipient and the device, and the delivery (not a person) as the identity.
    assert message["event"] == DELIVERY_METRIC
    assert message["properties"] == {"deliveryId": "d1", "metric": "opened", "recipient": "t"}
    assert message["context"] == {"device": {"token": "t"}}
    assert message["anonymousId"] == "cio_delivery:d1" and "userId" not in message
