"""Field by field, /openapi.json and the gateway agree: what the document allows is taken (200),
what it forbids is refused with a 400 naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from .conftest import SERVER_KEY, harness

pytestmark = pytest.mark.anyio
AUTH = (SERVER_KEY, "")
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
    ("/v1/batch", {"batch": [], "context": "web"}, False, "context"),
    ("/v1/batch", {"batch": [], "context": None}, False, "context"),
    ("/v1/batch", {"batch": [], "integrations": [1]}, False, "integrations"),
    ("/v1/batch", {"batch": [], "sentAt": ["2026"]}, False, "sentAt"),
    ("/v1/batch", {"batch": [], "sentAt": True}, False, "sentAt"),
    ("/v1/batch", {"batch": [], "sentAt": "2026-01-05T10:00:00Z", "context": {}}, True, None),
]


def _validator(document: dict[str, Any], path: str) -> Draft202012Validator:
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
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
