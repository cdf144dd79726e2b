"""Fake Segment HTTP tracking API (`/v1/batch`), strict mode included, and the Public API's
Create Workspace Regulation (`/regulations`).

Requests are checked against `schemas/segment-tracking.json`, written from Segment's HTTP
Tracking API reference and the Spec's common fields, and `schemas/segment-public-api.json`."""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakes.schema import violation
from tests.fakes.server import FakeServer, Received, Reply, basic_credentials, json_size

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
TYPES = ("identify", "track", "page", "screen", "group", "alias")
API = "segment-tracking"
PUBLIC_API = "segment-public-api"
# Regulations that delete what was collected, and those that keep the user's new data out.
DELETING = (
    "SUPPRESS_WITH_DELETE",
    "SUPPRESS_WITH_DELETE_INTERNAL",
    "DELETE_ONLY",
    "DELETE_INTERNAL",
)
SUPPRESSING = ("SUPPRESS_WITH_DELETE", "SUPPRESS_WITH_DELETE_INTERNAL", "SUPPRESS_ONLY")


class FakeSegment(FakeServer):
    """Write key as Basic user (or `writeKey` in the body); messages de-duplicated by messageId.

    Without `X-Strict-Mode: 1` every error is answered 200 and the bad data silently dropped,
    as Segment documents; with it, 400 and 401 are real."""

    def __init__(self, write_key: str = "wk-1", *, public_api_token: str = "sgp-1") -> None:
        super().__init__()
        self.write_key, self.public_api_token = write_key, public_api_token
        self.messages: list[dict[str, Any]] = []  # accepted once each
        self.batches: list[dict[str, Any]] = []  # accepted request bodies, as sent
        self.regulations: list[dict[str, Any]] = []  # accepted bodies, with their "regulateId"
        self.suppressed: set[str] = set()  # userIds whose new messages are dropped
        self._regulate_ids = itertools.count(1)

    def holds(self, user_id: str) -> bool:
        """Whether any message of this userId is still stored."""
        return any(message.get("userId") == user_id for message in self.messages)

    def handle(self, request: Received) -> Reply:
        """POST /v1/batch and POST /regulations."""
        if request.method == "POST" and request.path == "/regulations":
            return self._regulation(request)
        strict = request.headers.get("x-strict-mode") == "1"
        if request.method != "POST" or request.path != "/v1/batch":
            return Reply(404, {"success": False, "message": "not found", "code": "not_found"})
        try:
            body = request.json()
        except ValueError:
            return self._fail(strict, 400, "invalid JSON", "invalid_request")
        credentials = basic_credentials(request.headers)
        key = credentials[0] if credentials else None
        if key != self.write_key and (
            not isinstance(body, dict) or body.get("writeKey") != self.write_key
        ):
            return self._fail(strict, 401, "invalid write key", "invalid_write_key")
        if len(request.body) > MAX_BATCH_BYTES:
            return self._fail(strict, 400, "batch exceeds 500KB", "invalid_request")
        batch = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch, list) or not batch:
            return self._fail(strict, 400, "batch must be a non-empty array", "invalid_request")
        if (wrong := violation(API, "batch", body)) is not None:
            return self._fail(strict, 400, str(wrong), "invalid_request")
        problems = [(i, p) for i, m in enumerate(batch) if (p := check_message(m))]
        if problems and strict:
            index, problem = problems[0]
            return self._fail(strict, 400, f"batch[{index}]: {problem}", "invalid_request")
        bad = {index for index, _ in problems}
        self.batches.append(body)
        for index, message in enumerate(batch):
            if isinstance(message, dict) and message.get("userId") in self.suppressed:
                continue  # a suppressed user's data is dropped on arrival
            if index not in bad and self.first_time(str(message.get("messageId"))):
                self.messages.append(message)
        return Reply(200, {"success": True})

    def _regulation(self, request: Received) -> Reply:
        """Create Workspace Regulation; errors in the Public API's `errors` list."""
        if request.headers.get("authorization") != f"Bearer {self.public_api_token}":
            return _public_error(401, "unauthorized", "invalid or missing token")
        try:
            body = request.json()
        except ValueError:
            return _public_error(400, "bad-request", "invalid JSON")
        if (wrong := violation(PUBLIC_API, "create_workspace_regulation", body)) is not None:
            return _public_error(422, "validation", str(wrong))
        kind, ids = body["regulationType"], set(body["subjectIds"])
        if body["subjectType"] == "USER_ID":
            if kind in DELETING:
                self.messages = [m for m in self.messages if m.get("userId") not in ids]
            if kind in SUPPRESSING:
                self.suppressed |= ids
            elif kind == "UNSUPPRESS":
                self.suppressed -= ids
        regulate_id = f"reg{next(self._regulate_ids):04d}"
        self.regulations.append({**body, "regulateId": regulate_id})
        return Reply(200, {"data": {"regulateId": regulate_id}})

    @staticmethod
    def _fail(strict: bool, status: int, message: str, code: str) -> Reply:
        if not strict:
            return Reply(200, {"success": True})  # Segment's default: errors are swallowed
        return Reply(status, {"success": False, "message": message, "code": code})


def _public_error(status: int, kind: str, message: str) -> Reply:
    """An error in the Public API's format."""
    return Reply(status, {"errors": [{"type": kind, "message": message}]})


def check_message(message: Any) -> str | None:
    """The Segment spec's required fields and the 32 KB limit."""
    if not isinstance(message, dict):
        return "message must be an object"
    if json_size(message) > MAX_MESSAGE_BYTES:
        return "message exceeds 32KB"
    kind = message.get("type")
    if kind not in TYPES:
        return f"unknown type {kind!r}"
    if kind == "alias":
        if not message.get("userId") or not message.get("previousId"):
            return "alias needs userId and previousId"
    elif not message.get("userId") and not message.get("anonymousId"):
        return "userId or anonymousId is required"
    if kind == "track" and not (isinstance(message.get("event"), str) and message["event"]):
        return "track needs an event"
    if kind == "group" and not message.get("groupId"):
        return "group needs a groupId"
    for key in ("timestamp", "sentAt", "originalTimestamp"):
        if key in message and message[key] is not None and not isinstance(message[key], str):
            return f"{key} must be an ISO-8601 string"
    for key in ("properties", "traits", "context", "integrations"):
        if key in message and message[key] is not None and not isinstance(message[key], dict):
            return f"{key} must be an object"
    wrong = violation(API, "message", message)
    return None if wrong is None else str(wrong)
