"""Fake Segment HTTP tracking API (`/v1/batch`), strict mode included.

Requests are checked against `schemas/segment-tracking.json`, written from Segment's HTTP
Tracking API reference and the Spec's common fields."""

from __future__ import annotations

from typing import Any

from tests.fakes.schema import violation
from tests.fakes.server import FakeServer, Received, Reply, basic_credentials, json_size

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
TYPES = ("identify", "track", "page", "screen", "group", "alias")
API = "segment-tracking"


class FakeSegment(FakeServer):
    """Write key as Basic user (or `writeKey` in the body); messages de-duplicated by messageId.

    Without `X-Strict-Mode: 1` every error is answered 200 and the bad data silently dropped,
    as Segment documents; with it, 400 and 401 are real."""

    def __init__(self, write_key: str = "wk-1") -> None:
        super().__init__()
        self.write_key = write_key
        self.messages: list[dict[str, Any]] = []  # accepted once each
        self.batches: list[dict[str, Any]] = []  # accepted request bodies, as sent

    def handle(self, request: Received) -> Reply:
        """POST /v1/batch."""
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
            if index not in bad and self.first_time(str(message.get("messageId"))):
                self.messages.append(message)
        return Reply(200, {"success": True})

    @staticmethod
    def _fail(strict: bool, status: int, message: str, code: str) -> Reply:
        if not strict:
            return Reply(200, {"success": True})  # Segment's default: errors are swallowed
        return Reply(status, {"success": False, "message": message, "code": code})


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
