"""Fake webhook receiver: checks the HMAC-SHA256 signature the way a team's endpoint would, and
acts on privacy requests as README.md documents them (`schemas/trackwell-webhook.json`)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from tests.fakes.schema import violation
from tests.fakes.server import FakeServer, Received, Reply

TOLERANCE_SECONDS = 300


class FakeWebhook(FakeServer):
    """Accepts `{"batch": [...]}` at `path` when `x-trackwell-signature` is `v0=` +
    HMAC-SHA256(secret, `v0:<x-trackwell-timestamp>:<body>`) and the timestamp is recent.

    Written from the documented scheme, not from trackwell's code, so it proves a receiver can
    verify what trackwell sends."""

    def __init__(self, secret: str = "whsec-1", *, path: str = "/hooks/trackwell") -> None:
        super().__init__()
        self.secret, self.path = secret, path
        self.messages: list[dict[str, Any]] = []  # accepted once each, by messageId
        self.privacy_requests: list[dict[str, Any]] = []  # accepted once each, by requestId
        self.suppressed: set[str] = set()  # user and anonymous ids whose messages are dropped

    def holds(self, identifier: str) -> bool:
        """Whether any message of this user or anonymous id is still kept."""
        return any(identifier in (m.get("userId"), m.get("anonymousId")) for m in self.messages)

    def handle(self, request: Received) -> Reply:
        """POST to `path`."""
        if request.method != "POST" or request.path != self.path:
            return Reply(404, {"error": "not found"})
        stamp = request.headers.get("x-trackwell-timestamp", "")
        given = request.headers.get("x-trackwell-signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
            return Reply(401, {"error": "missing or stale timestamp"})
        signed = b"v0:" + stamp.encode() + b":" + request.body
        expected = "v0=" + hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            return Reply(401, {"error": "bad signature"})
        try:
            body = request.json()
        except ValueError:
            return Reply(400, {"error": "invalid JSON"})
        if isinstance(body, dict) and body.get("type") == "privacy":
            return self._privacy(body)
        batch = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch, list):
            return Reply(400, {"error": 'expected {"batch": [...]}'})
        for message in batch:
            if not isinstance(message, dict):
                continue
            if {message.get("userId"), message.get("anonymousId")} & self.suppressed:
                continue
            if self.first_time(str(message.get("messageId"))):
                self.messages.append(message)
        return Reply(200, {"ok": True})

    def _privacy(self, body: dict[str, Any]) -> Reply:
        """Erase drops the person's messages and keeps them out; suppress keeps them out;
        unsuppress lets them in again. A repeated requestId is acknowledged, not redone."""
        if (wrong := violation("trackwell-webhook", "privacy", body)) is not None:
            return Reply(400, {"error": str(wrong)})
        request_id = body.get("requestId")
        if request_id is not None and not self.first_time(f"privacy:{request_id}"):
            return Reply(200, {"ok": True, "duplicate": True})
        ids = set(body["userIds"]) | set(body["anonymousIds"])
        if body["action"] == "erase":
            self.messages = [
                m for m in self.messages if not {m.get("userId"), m.get("anonymousId")} & ids
            ]
        if body["action"] in ("erase", "suppress"):
            self.suppressed |= ids
        else:
            self.suppressed -= ids
        self.privacy_requests.append(body)
        return Reply(200, {"ok": True})
