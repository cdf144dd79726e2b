"""Field by field, /openapi.json and the gateway agree: what the document allows is taken (200),
what it forbids is refused with a 400 naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from trackwell.core.tokens import hash_token

from .conftest import SERVER_KEY, harness

pytestmark = pytest.mark.anyio
AUTH = (SERVER_KEY, "")
CIO = ("backend", SERVER_KEY)
BIG = 2**63

# (path, body, allowed by the document, the field a refusal names)
CASES: list[tuple[str, dict[str, Any], bool, str | None]] = [
    ("/v1/alias", {"userId": "u-1", "previousId": 42}, True, None),
    ("/v1/alias", {"userId": "u-1", "previousId": BIG - 1}, True, None),
    ("/v1/alias", {"userId": "u-1", "previousId": BIG}, False, "previousId"),
    ("/v1/group", {"userId": "u-1", "groupId": -BIG}, True, None),
    ("/v1/group", {"userId": "u-1", "groupId": -BIG - 1}, False, "groupId"),
    ("/v1/identify", {"userId": 10**40}, False, "userId"),
    ("/v1/identify", {"userId": 7, "anonymousId": 8, "messageId": 9}, True, None),
    ("/v1/group", {"userId": "u-1", "groupId": 1104.0}, True, None),
    (
        "/v1/identify",
        {"userId": "u-1", "anonymousId": None, "sentAt": None, "traits": None},
        True,
        None,
    ),
    ("/v1/batch", {"batch": [None, [1]]}, True, None),
    ("/v1/identify", {"userId": "u-1", "properties": [None]}, False, "properties"),
    ("/v1/page", {"userId": "u-1", "traits": [None]}, False, "traits"),
    ("/v1/page", {"userId": "u-1", "name": None, "event": None}, True, None),
    ("/v1/batch", {"batch": [], "context": "web"}, False, "context"),
    ("/v1/batch", {"batch": [], "context": None}, False, "context"),
    ("/v1/batch", {"batch": [], "integrations": [1]}, False, "integrations"),
    ("/v1/batch", {"batch": [], "sentAt": ["2026"]}, False, "sentAt"),
    ("/v1/batch", {"batch": [], "sentAt": True}, False, "sentAt"),
    ("/v1/batch", {"batch": [], "sentAt": "2026-01-05T10:00:00Z", "context": {}}, True, None),
    # Over maxItems: a 400 (Segment answers 400 past its batch limits), not a 413.
    ("/v1/batch", {"batch": [{}] * 2501}, False, "batch"),
    ("/v1/import", {"batch": [None] * 2501}, False, "batch"),
    # Each call reads its own field: a page's `event` or an identify's `name` is unread, so a
    # NUL there is no key's; a page's own name is one.
    ("/v1/page", {"userId": "u-1", "name": "Pricing", "event": "a\x00b"}, True, None),
    ("/v1/screen", {"userId": "u-1", "event": 5}, True, None),
    ("/v1/identify", {"userId": "u-1", "name": "a\x00"}, True, None),
    ("/v1/group", {"userId": "u-1", "groupId": "g-1", "event": "a\x00"}, True, None),
    ("/v1/screen", {"userId": "u-1", "name": "Home\x00"}, False, "name"),
    ("/v1/track", {"userId": "u-1", "event": "x" * 256}, False, "event"),
    # The path says the type; one in the body is replaced.
    ("/v1/identify", {"userId": "u-1", "type": "nonsense"}, True, None),
]


METRIC = {"delivery_id": "dlv-1", "metric": "clicked"}
PUSH = {"delivery_id": "dlv-2", "event": "opened", "device_id": "tok-1"}
DEVICE = {"id": "tok-2", "platform": "ios"}
EVENTS = "/api/v1/customers/{id}/events"
DEVICES = "/api/v1/customers/{id}/devices"
MERGE = "/api/v1/merge_customers"
ENTITY = "/api/v2/entity"
# (document path, request path, method, body, allowed by the document, the field a refusal names)
CIO_CASES: list[tuple[str, str, str, dict[str, Any], bool, str | None]] = [
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "href": "https://x.test"}, True, None),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "href": 5}, False, "href"),
    ("/api/v1/push/events", "/api/v1/push/events", "post", {**PUSH, "delivery_id": "d\x00"}, False, "delivery_id"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "metric": "\u00a0"}, False, "metric"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "recipient": None}, False, "recipient"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "reason": {}}, False, "reason"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "timestamp": 1.5}, False, "timestamp"),
    ("/api/v1/push/events", "/api/v1/push/events", "post", {**PUSH, "timestamp": 1767600000}, True, None),
    ("/api/v1/push/events", "/api/v1/push/events", "post", {**PUSH, "timestamp": "now"}, False, "timestamp"),
    ("/api/v1/push/events", "/api/v1/push/events", "post", {**PUSH, "timestamp": 1e9}, True, None),
    ("/api/v1/push/events", "/api/v1/push/events", "post", {**PUSH, "timestamp": 1e9 + 0.5}, False, "timestamp"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "timestamp": -1}, False, "timestamp"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "timestamp": 10**14}, False, "timestamp"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "timestamp": 10**14 - 1}, True, None),
    ("/api/v1/events", "/api/v1/events", "post", {"name": "Seen", "anonymous_id": 5}, False, "anonymous_id"),
    ("/api/v1/events", "/api/v1/events", "post", {"name": "Seen", "anonymous_id": "a-1"}, True, None),
    ("/api/v1/events", "/api/v1/events", "post", {"name": "Seen", "anonymous_id": "a-1", "type": None}, True, None),
    ("/api/v1/push/events", "/api/v1/push/events", "post", {**PUSH, "device_id": None}, True, None),
    ("/api/v1/push/events", "/api/v1/push/events", "post", {**PUSH, "event": "clicked"}, False, "event"),
    (DEVICES, "/api/v1/customers/p-1/devices", "put", {"device": {**DEVICE, "platform": "web"}}, False, "device.platform"),
    (EVENTS, "/api/v1/customers/p-1/events", "post", {"name": "Seen", "id": None}, True, None),
    (EVENTS, "/api/v1/customers/p-1/events", "post", {"name": "Seen", "data": None}, True, None),
    (DEVICES, "/api/v1/customers/p-1/devices", "put", {"device": {**DEVICE, "last_used": None}}, True, None),
    (DEVICES, "/api/v1/customers/p-1/devices", "put", {"device": {**DEVICE, "last_used": 1.7e9}}, True, None),
    (EVENTS, "/api/v1/customers/p-1/events", "post", {"name": "Seen", "id": 12}, True, None),
    (EVENTS, "/api/v1/customers/p-1/events", "post", {"name": "Seen", "id": [1]}, False, "id"),
    (EVENTS, "/api/v1/customers/p-1/events", "post", {"name": "Seen", "id": True}, False, "id"),
    (DEVICES, "/api/v1/customers/p-1/devices", "put", {"device": {**DEVICE, "attributes": None}}, True, None),
    (DEVICES, "/api/v1/customers/p-1/devices", "put", {"device": {**DEVICE, "last_used": {}}}, False, "device.last_used"),
    (EVENTS, "/api/v1/customers/p-1/events", "post", {"name": "Seen", "anonymous_id": "a\x00"}, False, "anonymous_id"),
    ("/api/v1/events", "/api/v1/events", "post", {"name": "Seen", "anonymous_id": None, "timestamp": None}, True, None),
    ("/api/v1/merge_customers", "/api/v1/merge_customers", "post", {"primary": {"id": "a"}, "secondary": {"id": "b", "x": 1}}, True, None),
    (DEVICES, "/api/v1/customers/p-1/devices", "put", {"device": {**DEVICE, "attributes": 3}}, False, "device.attributes"),
    # The dedup id becomes the messageId and the anonymous id a key: no NUL, at most 255 (the
    # refusal names the message's field, as for every id a Customer.io call maps to).
    (EVENTS, "/api/v1/customers/p-1/events", "post", {"name": "Seen", "id": "\x005"}, False, "messageId"),
    (EVENTS, "/api/v1/customers/p-1/events", "post", {"name": "Seen", "id": 12.0}, True, None),
    ("/api/v1/events", "/api/v1/events", "post", {"name": "Seen", "anonymous_id": "a" * 256}, False, "anonymousId"),
    ("/api/v1/events", "/api/v1/events", "post", {"name": "S" * 256, "anonymous_id": "a-1"}, False, "event"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "delivery_id": "d" * 243}, False, "anonymousId"),
    ("/api/v1/metrics", "/api/v1/metrics", "post", {**METRIC, "delivery_id": "d" * 242}, True, None),
    # A merge side names one person by exactly one of id, email or cio_id (the reference).
    (MERGE, MERGE, "post", {"primary": {"id": "a"}, "secondary": {"id": "b", "email": "b@x.test"}}, False, "secondary"),
    (MERGE, MERGE, "post", {"primary": {"cio_id": "0", "email": "0", "id": "0", "phone": "0"}, "secondary": {"id": "b"}}, False, "primary"),
    (MERGE, MERGE, "post", {"primary": {"phone": "+15550100"}, "secondary": {"id": "b"}}, False, "primary"),
    (MERGE, MERGE, "post", {"primary": {"id": "a"}, "secondary": {"id": "b", "phone": ""}}, True, None),
    (MERGE, MERGE, "post", {"primary": {"email": 7}, "secondary": {"id": "b"}}, False, "primary.email"),
    (MERGE, MERGE, "post", {"primary": {"cio_id": "c" * 151}, "secondary": {"id": "b"}}, False, "primary.cio_id"),
    # Track v2: one schema per type and action, as the reference gives them.
    (ENTITY, ENTITY, "post", {"type": "person", "action": "identify", "identifiers": {"id": "u-1"}, "attributes": {"plan": "pro"}}, True, None),
    (ENTITY, ENTITY, "post", {"type": "person", "action": "identify", "identifiers": {"id": "u-1", "email": "u@x.test"}}, False, "identifiers"),
    (ENTITY, ENTITY, "post", {"type": "person", "action": "identify", "identifiers": {"id": "u-1"}, "attributes": {"anonymous_id": 5}}, False, "attributes.anonymous_id"),
    (ENTITY, ENTITY, "post", {"type": "person", "action": "", "identifiers": {}, "name": "", "id": ""}, False, "identifiers"),
    (ENTITY, ENTITY, "post", {"type": "person", "action": "event", "identifiers": {"anonymous_id": "a-1"}, "name": "Seen"}, True, None),
    (ENTITY, ENTITY, "post", {"type": "person", "action": "page", "identifiers": {"anonymous_id": "a-1"}, "name": "Seen"}, False, "identifiers"),
    (ENTITY, ENTITY, "post", {"type": "person", "action": "event", "identifiers": {"id": "u-1"}, "name": "Seen", "id": {}}, False, "id"),
    (ENTITY, ENTITY, "post", {"type": "person", "action": "add_relationships", "identifiers": {"id": "u-1"}}, False, "cio_relationships"),
    (ENTITY, ENTITY, "post", {"type": "person", "action": "add_device", "identifiers": {"id": "u-1"}, "device": {"token": "t-1", "platform": "ios"}}, True, None),
    (ENTITY, ENTITY, "post", {"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "acme"}, "attributes": {"name": "Acme"}, "cio_relationships": [{"identifiers": {"id": "u-1"}}]}, True, None),
    (ENTITY, ENTITY, "post", {"type": "object", "action": "delete", "identifiers": {"object_id": "acme"}}, False, "identifiers"),
    (ENTITY, ENTITY, "post", {"type": "delivery", "action": "event", "identifiers": {"id": "d-1"}, "name": "clicked", "attributes": {"device_token": "t-1"}}, False, "name"),
    (ENTITY, ENTITY, "post", {"type": "delivery", "action": "event", "identifiers": {"id": "d-1"}, "name": "opened"}, False, "attributes"),
]  # fmt: skip


def _validator(document: dict[str, Any], path: str, method: str = "post") -> Draft202012Validator:
    schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    return Draft202012Validator(
        {**schema["schema"], "components": document["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


@pytest.mark.parametrize(("path", "body", "allowed", "field"), CASES)
async def test_the_document_and_the_answer_agree(
    tmp_path: Path, path: str, body: dict[str, Any], allowed: bool, field: str | None
) -> None:
    async with harness(tmp_path) as h:
        document = (await h.client.get("/openapi.json")).json()
        assert _validator(document, path).is_valid(body) is allowed
        response = await h.client.post(path, json=body, auth=AUTH)
        if allowed:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 400, response.text
            assert response.json()["field"] == field


async def test_a_numeric_id_is_stored_as_its_text(tmp_path: Path) -> None:
    body = {"userId": "u-1", "previousId": BIG - 1, "messageId": "num-id"}
    async with harness(tmp_path) as h:
        response = await h.client.post("/v1/alias", json=body, auth=AUTH)
        assert response.status_code == 200, response.text
        entry = h.store.get("num-id")
        assert entry is not None
        assert entry.message["previousId"] == str(BIG - 1)


@pytest.mark.parametrize(("documented", "path", "method", "body", "allowed", "field"), CIO_CASES)
async def test_the_customer_io_document_and_answer_agree(
    tmp_path: Path,
    documented: str,
    path: str,
    method: str,
    body: dict[str, Any],
    allowed: bool,
    field: str | None,
) -> None:
    async with harness(tmp_path) as h:
        document = (await h.client.get("/openapi.json")).json()
        assert _validator(document, documented, method).is_valid(body) is allowed
        response = await h.client.request(method.upper(), path, json=body, auth=CIO)
        if allowed:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 400, response.text
            assert response.json()["field"] == field


async def test_a_customer_io_batch_over_its_limit_is_a_400_and_a_bad_operation_is_kept_blocked(
    tmp_path: Path,
) -> None:
    # Items are "a CioOperation" without a schema of their own in the document: one that breaks
    # its operation's schema is kept, blocked, naming the field, and the rest are stored.
    good = {"type": "person", "action": "identify", "identifiers": {"id": "u-1"}}
    twice = {**good, "identifiers": {"id": "u-1", "email": "u@x.test"}}
    async with harness(tmp_path) as h:
        document = (await h.client.get("/openapi.json")).json()
        validator = _validator(document, "/api/v2/batch")
        assert not validator.is_valid({"batch": [good] * 2501})
        over = await h.client.post("/api/v2/batch", json={"batch": [good] * 2501}, auth=CIO)
        assert over.status_code == 400 and over.json()["field"] == "batch", over.text
        assert validator.is_valid({"batch": [good, twice]})
        response = await h.client.post("/api/v2/batch", json={"batch": [good, twice]}, auth=CIO)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"] + body["repaired"], body["blocked"]) == (1, 1)
        [violation] = [v for v in body["violations"] if v["code"] == "malformed"]
        assert violation["path"] == "batch[1].identifiers"


ADMIN = "tw_admin_agreement_token"
REGULATIONS = "/admin/v1/regulations"
# (body, allowed by the document, the field a refusal names)
REGULATION_CASES: list[tuple[dict[str, Any], bool, str | None]] = [
    ({"regulationType": "SUPPRESS_WITH_DELETE", "subjectType": "USER_ID", "subjectIds": ["u-1"]}, True, None),
    ({"regulationType": "DELETE_ONLY", "subjectType": "EMAIL", "subjectIds": ["a@x.test", "u-2"]}, True, None),
    ({"regulationType": "SUPPRESS_ONLY", "subjectType": "ANONYMOUS_ID", "subjectIds": ["a-1"]}, True, None),
    ({"regulationType": "UNSUPPRESS", "subjectType": "USER_ID", "subjectIds": ["u-1"], "extra": 1}, True, None),
    ({"regulationType": "DELETE_INTERNAL", "subjectType": "USER_ID", "subjectIds": ["u-1"]}, False, "regulationType"),
    ({"regulationType": "DELETE_ONLY", "subjectType": "OBJECT_ID", "subjectIds": ["u-1"]}, False, "subjectType"),
    ({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": []}, False, "subjectIds"),
    ({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["u"] * 101}, False, "subjectIds"),
    ({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": [7]}, False, "subjectIds[0]"),
    ({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": [" "]}, False, "subjectIds[0]"),
    ({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["a\x00"]}, False, "subjectIds[0]"),
    ({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["a" * 256]}, False, "subjectIds[0]"),
    ({"subjectType": "USER_ID", "subjectIds": ["u-1"]}, False, "regulationType"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "allowed", "field"), REGULATION_CASES)
async def test_the_regulations_document_and_answer_agree(
    tmp_path: Path, body: dict[str, Any], allowed: bool, field: str | None
) -> None:
    async with harness(tmp_path, admin_token_hash=hash_token(ADMIN)) as h:
        document = (await h.client.get("/openapi.json")).json()
        assert _validator(document, REGULATIONS).is_valid(body) is allowed
        headers = {"authorization": f"Bearer {ADMIN}"}
        response = await h.client.post(REGULATIONS, json=body, headers=headers)
        if allowed:
            assert response.status_code == 200, response.text
            regulate_id = response.json()["data"]["regulateId"]
            read = await h.client.get(f"{REGULATIONS}/{regulate_id}", headers=headers)
            schema = document["paths"][REGULATIONS + "/{regulateId}"]["get"]["responses"]["200"]
            answer = schema["content"]["application/json"]["schema"]
            Draft202012Validator({**answer, "components": document["components"]}).validate(
                read.json()
            )
        else:
            assert response.status_code == 400, response.text
            assert response.json()["field"] == field
