"""Customer.io operations through the gateway: deletes, suppression, devices, relationships and
people addressed by `cio_<id>` or email are stored as operations, never blocked as unplanned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trackwell.core.operations import (
    DEVICE_DELETED,
    DEVICE_UPDATED,
    OBJECT_DELETED,
    RELATIONSHIP_DELETED,
    USER_DELETED,
    USER_SUPPRESSED,
    USER_UNSUPPRESSED,
    cio_external_id,
)
from trackwell.server.auth import hash_key
from trackwell.store.base import TimelineEntry

from ..conftest import EXAMPLE_PLAN
from .conftest import BROWSER_KEY, SERVER_KEY, Harness, harness

pytestmark = pytest.mark.anyio

CIO = ("backend", SERVER_KEY)
# Who a privacy request made with the server key is recorded as: the key, by its hash prefix.
ACTOR = f"key:backend/{hash_key(SERVER_KEY)[:19]}"
TOKEN = "f3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"


def entries(h: Harness, person: str, event: str) -> list[TimelineEntry]:
    return [e for e in h.store.timeline(person).entries if e.message.get("event") == event]


async def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["blocked"] == 0, body
    return body


def requests(h: Harness) -> list[tuple[str, str]]:
    """(kind, actor) of every privacy request, oldest first."""
    return [(r.kind, r.actor) for r in reversed(h.store.privacy_requests())]


async def test_v1_delete_suppress_unsuppress_are_privacy_requests_not_messages(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        c = h.client
        await ok(await c.put("/api/v1/customers/u1", json={"email": "u1@example.com"}, auth=CIO))
        for call in (
            c.post("/api/v1/customers/u1/suppress", auth=CIO),
            c.post("/api/v1/customers/u1/unsuppress", content=b"{}", auth=CIO),
            c.delete("/api/v1/customers/u1", auth=CIO),
        ):
            body = await ok(await call)
            assert body["accepted"] == 1 and body["violations"] == []
        assert requests(h) == [("suppress", ACTOR), ("unsuppress", ACTOR),
                               ("erase", ACTOR)]  # fmt: skip
        # The delete erased the person, and left no message naming them behind.
        assert h.store.profile("u1") is None and h.store.timeline("u1").entries == ()
        for name in (USER_SUPPRESSED, USER_UNSUPPRESSED, USER_DELETED):
            assert not [e for e in h.store.sample() if e.message.get("event") == name]
        assert h.store.count_blocked() == 0


async def test_v2_person_actions_are_privacy_requests(tmp_path: Path) -> None:
    ops = [
        {"type": "person", "identifiers": {"id": "u2"}, "action": action}
        for action in ("suppress", "unsuppress", "delete")
    ]
    async with harness(tmp_path) as h:
        body = await ok(await h.client.post("/api/v2/batch", json={"batch": ops}, auth=CIO))
        assert body["accepted"] == 3 and body["violations"] == []
        entity = {"type": "person", "identifiers": {"email": "u3@example.com"}, "action": "delete"}
        await ok(await h.client.post("/api/v2/entity", json=entity, auth=CIO))
        assert [kind for kind, _ in requests(h)] == ["suppress", "unsuppress", "erase", "erase"]
        assert h.store.count() == 0


async def test_a_batch_names_its_violations_where_they_were_sent(tmp_path: Path) -> None:
    # The person operation is taken out before the checks: the violation of the item after it
    # still names that item's place in the batch.
    ops = [
        {"type": "person", "identifiers": {"id": "u2"}, "action": "suppress"},
        {
            "type": "person",
            "identifiers": {"id": "u9"},
            "action": "event",
            "name": "Acount Created",
        },
    ]
    async with harness(tmp_path) as h:
        response = await h.client.post("/api/v2/batch", json={"batch": ops}, auth=CIO)
        assert response.status_code == 200
        body = response.json()
        assert body["violations"] and {v["index"] for v in body["violations"]} == {1}


async def test_an_operation_still_needs_a_real_identity(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.delete("/api/v1/customers/undefined", auth=CIO)
        assert response.status_code == 200
        assert response.json()["blocked"] == 1
        assert response.json()["violations"][0]["code"] == "invalid_identity"


async def test_the_segment_api_carries_operations_from_server_keys_only(tmp_path: Path) -> None:
    deleted = {"type": "track", "userId": "u4", "event": USER_DELETED, "properties": {}}
    async with harness(tmp_path) as h:
        await ok(await h.client.post("/v1/track", json=deleted, auth=(SERVER_KEY, "")))
        assert requests(h) == [("erase", ACTOR)] and not entries(h, "u4", USER_DELETED)
        anonymous = {**deleted, "anonymousId": "a-1"}
        del anonymous["userId"]
        refused = await h.client.post("/v1/track", json=anonymous, auth=(BROWSER_KEY, ""))
        assert refused.status_code == 403
        assert refused.json()["field"] == "event"
        by_cio_id = {"type": "track", "event": "Feature Used", "properties": {},
                     "context": {"externalIds": [cio_external_id("a1b2")]}}  # fmt: skip
        refused = await h.client.post("/v1/track", json=by_cio_id, auth=(BROWSER_KEY, ""))
        assert refused.status_code == 403
        assert refused.json()["field"] == "context.externalIds"
        assert h.store.count_blocked() == 0


async def test_device_tokens_are_kept_intact_and_raise_no_alert(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        c = h.client
        device = {"id": TOKEN, "platform": "ios", "last_used": 1767600300}
        device["attributes"] = {"app_version": "2.1", "push_enabled": "true"}
        body = await ok(
            await c.put("/api/v1/customers/u5/devices", json={"device": device}, auth=CIO)
        )
        assert body["violations"] == []
        [added] = entries(h, "u5", DEVICE_UPDATED)
        assert added.message["context"]["device"] == {"token": TOKEN, "type": "ios"}
        assert added.message["properties"] == {
            "last_used": 1767600300,
            "app_version": "2.1",
            "push_enabled": "true",
        }
        await ok(await c.delete(f"/api/v1/customers/u5/devices/{TOKEN}", auth=CIO))
        [removed] = entries(h, "u5", DEVICE_DELETED)
        assert removed.message["context"]["device"]["token"] == TOKEN
        v2 = [
            {"type": "person", "identifiers": {"id": "u6"}, "action": "add_device",
             "device": {"token": TOKEN, "platform": "android"}},
            {"type": "person", "identifiers": {"id": "u6"}, "action": "delete_device",
             "device": {"token": TOKEN}},
        ]  # fmt: skip
        body = await ok(await c.post("/api/v2/batch", json={"batch": v2}, auth=CIO))
        assert body["violations"] == []
        tokens = [e.message["context"]["device"]["token"] for e in h.store.timeline("u6").entries]
        assert tokens == [TOKEN, TOKEN]


async def test_a_token_is_still_redacted_where_it_is_not_a_device_token(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        device = {"id": "tok-7", "platform": "ios", "attributes": {"token": TOKEN}}
        response = await h.client.put(
            "/api/v1/customers/u7/devices", json={"device": device}, auth=CIO
        )
        codes = [(v["code"], v["path"]) for v in response.json()["violations"]]
        assert codes == [("sensitive_data", "properties.token")]
        [added] = entries(h, "u7", DEVICE_UPDATED)
        assert added.message["properties"]["token"] == "[redacted:secret_token]"
        assert added.message["context"]["device"]["token"] == "tok-7"
        event = {"name": "Account Created", "data": {"plan": "free", "token": TOKEN}}
        response = await h.client.post("/api/v1/customers/u7/events", json=event, auth=CIO)
        assert response.json()["violations"][0]["code"] == "sensitive_data"


@pytest.mark.parametrize("action", ["delete_relationships", "remove_relationships"])
async def test_v1_identify_takes_documented_cio_relationships(tmp_path: Path, action: str) -> None:
    relationships = [
        {"identifiers": {"object_type_id": "1", "object_id": "acme"},
         "relationship_attributes": {"role": "admin"}},
        {"identifiers": {"cio_object_id": "obj-9"}},
    ]  # fmt: skip
    async with harness(tmp_path) as h:
        c = h.client
        added = {"email": "u8@example.com", "cio_relationships": {
            "action": "add_relationships", "relationships": relationships}}  # fmt: skip
        await ok(await c.put("/api/v1/customers/u8", json=added, auth=CIO))
        groups = [e.message for e in h.store.timeline("u8").entries if e.message["type"] == "group"]
        assert [(g["groupId"], g["traits"]) for g in groups] == [
            ("acme", {"role": "admin"}),
            ("obj-9", {}),
        ]
        profile = h.store.profile("u8")
        assert profile is not None and "cio_relationships" not in profile.traits
        removed = {"cio_relationships": {"action": action, "relationships": relationships[:1]}}
        await ok(await c.put("/api/v1/customers/u8", json=removed, auth=CIO))
        [deleted] = entries(h, "u8", RELATIONSHIP_DELETED)
        assert deleted.message["properties"] == {"objectId": "acme", "objectTypeId": "1"}
        bad = {"cio_relationships": {"action": "replace", "relationships": []}}
        refused = await c.put("/api/v1/customers/u8", json=bad, auth=CIO)
        assert refused.status_code == 400
        assert refused.json()["field"] == "cio_relationships.action"


async def test_v2_relationship_and_object_deletes(tmp_path: Path) -> None:
    acme = {"object_type_id": "1", "object_id": "acme"}
    ops = [
        {"type": "person", "identifiers": {"id": "u9"}, "action": "identify",
         "attributes": {"email": "u9@example.com"},
         "cio_relationships": [{"identifiers": acme}]},
        {"type": "person", "identifiers": {"id": "u9"}, "action": "delete_relationships",
         "cio_relationships": [{"identifiers": acme}]},
        {"type": "object", "identifiers": acme, "action": "delete_relationships",
         "cio_relationships": [{"identifiers": {"id": "u10"}}]},
        {"type": "object", "identifiers": acme, "action": "delete"},
    ]  # fmt: skip
    async with harness(tmp_path) as h:
        body = await ok(await h.client.post("/api/v2/batch", json={"batch": ops}, auth=CIO))
        assert body["accepted"] == 5
        assert entries(h, "u9", RELATIONSHIP_DELETED)
        assert entries(h, "u10", RELATIONSHIP_DELETED)
        [gone] = entries(h, "cio_object:1:acme", OBJECT_DELETED)
        assert gone.message["properties"] == {"objectId": "acme", "objectTypeId": "1"}


async def test_a_cio_id_is_never_resolved_through_a_trait(tmp_path: Path) -> None:
    # A trait is whatever a client last set: resolving `cio_<id>` through it could aim a
    # suppression at whoever claimed that id. The address stays Customer.io's own.
    plan = tmp_path / "plan.yaml"
    cio_id = "traits:\n  cio_id:\n    type: string\n    description: Customer.io's id.\n"
    plan.write_text(EXAMPLE_PLAN.read_text().replace("traits:\n", cio_id, 1))
    async with harness(tmp_path, plan=plan) as h:
        c = h.client
        await ok(await c.put("/api/v1/customers/u11", json={"cio_id": "a1b2"}, auth=CIO))
        await ok(await c.post("/api/v1/customers/cio_a1b2/suppress", auth=CIO))
        assert not entries(h, "u11", USER_SUPPRESSED)
        assert h.store.profile("cio_a1b2") is None
        (suppressed,) = [e for e in h.store.sample() if e.message.get("event") == USER_SUPPRESSED]
        assert "userId" not in suppressed.message
        assert suppressed.message["context"]["externalIds"][0]["id"] == "a1b2"


async def test_an_unknown_cio_id_makes_no_profile_and_keeps_the_address(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await ok(await h.client.delete("/api/v1/customers/cio_ffee", auth=CIO))
        v2 = {"type": "person", "identifiers": {"cio_id": "ffee"}, "action": "identify",
              "attributes": {"plan": "pro"}}  # fmt: skip
        await ok(await h.client.post("/api/v2/entity", json=v2, auth=CIO))
        assert h.store.profile("cio_ffee") is None and h.store.profile("ffee") is None
        # No profile; the log knows the person by Customer.io's id, as an unidentified key, so
        # their messages share a timeline and keep their order.
        assert [(p.key, p.anonymous) for p in h.store.recent_people()] == [("cio_ffee", True)]
        external = [{"id": "ffee", "type": "cio_id", "collection": "users", "encoding": "none"}]
        stored = h.store.sample()
        assert [e.message["type"] for e in stored] == ["identify", "track"]
        for entry in stored:
            assert "userId" not in entry.message
            assert entry.message["context"]["externalIds"] == external


async def test_an_email_in_the_path_names_the_person_with_that_email(tmp_path: Path) -> None:
    # A privacy request resolves its identifier like every other (`trackwell privacy erase
    # EMAIL`): the email names the person whose email trait it is, and every id they have.
    async with harness(tmp_path) as h:
        c = h.client
        await ok(await c.put("/api/v1/customers/u12", json={"email": "ada@example.com"}, auth=CIO))
        await ok(await c.delete("/api/v1/customers/ada%40example.com", auth=CIO))
        assert h.store.profile("u12") is None and h.store.count() == 0
        [erase] = h.store.privacy_requests()
        assert erase.identifiers == 2  # u12 and the email
        await ok(await c.post("/api/v1/customers/new%40example.com/suppress", auth=CIO))
        later = {"email": "new@example.com", "plan": "pro"}
        await ok(await c.put("/api/v1/customers/u13", json=later, auth=CIO))
        assert h.store.profile("u13") is None  # its email is suppressed: acknowledged, not kept
