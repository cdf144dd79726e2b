"""A fake webhook receiver that also takes trackwell's signed privacy requests, over loopback."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from tests.fakes.server import Received, Reply
from tests.fakes.webhook import TOLERANCE_SECONDS, FakeWebhook
from trackwell.destinations.webhook import Webhook

SECRET = "whsec-privacy-tests"
ACTIONS = ("erase", "suppress", "unsuppress")


class PrivacyTool(FakeWebhook):
    """Signed batches as `FakeWebhook` takes them, and signed privacy requests at the same path:
    `{"type": "privacy", "action", "requestId"?, "userIds", "anonymousIds", "emails", "sentAt"}`
    (README, "Privacy requests at the tools"). A privacy body of any other shape is a 400."""

    def __init__(self) -> None:
        super().__init__(SECRET)
        self.privacy_requests: list[dict[str, Any]] = []
        self.clients: list[Webhook] = []  # the destinations made for it, closed when it stops

    def stop(self) -> None:
        """Close the destinations' connections, then stop serving."""
        for client in self.clients:
            client.close()
        super().stop()

    def handle(self, request: Received) -> Reply:
        """Privacy requests here; batches through the webhook receiver's own checks."""
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("type") != "privacy":
            return super().handle(request)
        if not self._signed(request):
            return Reply(401, {"error": "bad signature"})
        lists = [body.get(key) for key in ("userIds", "anonymousIds", "emails")]
        if (
            body.get("action") not in ACTIONS
            or not all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in lists)
            or not any(lists)
            or not isinstance(body.get("sentAt"), str)
        ):
            return Reply(400, {"error": "malformed privacy request"})
        self.privacy_requests.append(body)
        return Reply(200, {"ok": True})

    def _signed(self, request: Received) -> bool:
        """`v0=` + HMAC-SHA256(secret, `v0:<timestamp>:<body>`) with a recent timestamp."""
        stamp = request.headers.get("x-trackwell-timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
            return False
        signed = b"v0:" + stamp.encode() + b":" + request.body
        expected = "v0=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, request.headers.get("x-trackwell-signature", ""))

    def sent_text(self, since: int = 0) -> str:
        """Every delivery body the tool was sent (from its `since`-th request on), refused ones
        included, as one text."""
        with self.lock:
            return "\n".join(
                r.body.decode("utf-8", "replace") for r in self.requests[since:] if _is_batch(r)
            )

    def delivered_ids(self) -> set[str]:
        """The messageIds the tool accepted."""
        with self.lock:
            return {str(m.get("messageId")) for m in self.messages}


def hook(name: str, tool: PrivacyTool, **common: Any) -> Webhook:
    """The real webhook destination, pointed at `tool` (closed when the tool stops)."""
    made = Webhook(name, url=f"{tool.url}{tool.path}", secret=SECRET, **common)
    tool.clients.append(made)
    return made


def _is_batch(request: Received) -> bool:
    try:
        body = request.json()
    except ValueError:
        return True  # not JSON: count it as sent data, to be safe
    return not (isinstance(body, dict) and body.get("type") == "privacy")
