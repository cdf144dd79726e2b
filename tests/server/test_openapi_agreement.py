"""Field by field, /openapi.json and the gateway agree: what the document allows is taken (200),
what it forbids is refused with a 400 naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

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
]


METRIC = {"delivery_id": "dlv-1", "metric": "clicked"}
PUSH = {"delivery_id": "dlv-2", "event": "opened", "device_id": "tok-1"}
DEVICE = {"id": "tok-2", "platform": "ios"}
EVENTS = "/api/v1/customers/{id}/events"
DEVICES = "/api/v1/customers/{id}/devices"
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
