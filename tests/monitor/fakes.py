"""Fake alert receivers and Mixpanel's export API, on loopback, written from their documentation."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from tests.fakes.server import FakeServer, Received, Reply, basic_credentials

PD_SEVERITIES = ("critical", "error", "warning", "info")


class FakeSlack(FakeServer):
    """An incoming webhook: `text` is required; blocks are checked against Slack's limits."""

    def __init__(self, path: str = "/services/T000/B000/XXXX") -> None:
        super().__init__()
        self.path = path
        self.messages: list[dict[str, Any]] = []

    def handle(self, request: Received) -> Reply:
        """POST the webhook path; Slack answers `ok` as text/plain."""
        if request.method != "POST" or request.path != self.path:
            return Reply(404, b"no_service", {"content-type": "text/plain"})
        try:
            body = request.json()
        except ValueError:
            return Reply(400, b"invalid_payload", {"content-type": "text/plain"})
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return Reply(400, b"no_text", {"content-type": "text/plain"})
        if not _blocks_valid(body.get("blocks", [])):
            return Reply(400, b"invalid_blocks", {"content-type": "text/plain"})
        self.messages.append(body)
        return Reply(200, b"ok", {"content-type": "text/plain"})


def _blocks_valid(blocks: Any) -> bool:
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or len(text.get("text", "")) > 150:
                return False
        elif kind == "section":
            if len(block["text"].get("text", "")) > 3000:
                return False
        elif kind != "context":
            return False
    return True


class FakePagerDuty(FakeServer):
    """Events API v2 at /v2/enqueue: incidents opened by trigger and closed by resolve, per dedup_key."""

    def __init__(self, routing_key: str = "R0UT1NGKEY00000000000000000000AB") -> None:
        super().__init__()
        self.routing_key = routing_key
        self.events: list[dict[str, Any]] = []
        self.open: dict[str, dict[str, Any]] = {}  # dedup_key -> the trigger's payload
        self.incidents = 0

    def handle(self, request: Received) -> Reply:
        """POST /v2/enqueue."""
        if request.method != "POST" or request.path != "/v2/enqueue":
            return Reply(404, {"status": "not found"})
        try:
            event = request.json()
        except ValueError:
            return Reply(400, {"status": "invalid event", "message": "Event object is invalid"})
        errors = self._errors(event)
        if errors:
            return Reply(
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
            )
        self.events.append(event)
        key = event["dedup_key"]
        if event["event_action"] == "trigger":
            if key not in self.open:
                self.incidents += 1
            self.open[key] = event["payload"]
        elif event["event_action"] == "resolve":
            self.open.pop(key, None)
        return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})

    def _errors(self, event: Any) -> list[str]:
        if not isinstance(event, dict):
            return ["Event must be an object"]
        errors = []
        if event.get("routing_key") != self.routing_key:
            errors.append("'routing_key' is invalid")
        if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        key = event.get("dedup_key")
        if event.get("event_action") != "trigger" and not key:
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if isinstance(key, str) and len(key) > 255:
            errors.append("'dedup_key' is too long")
        if event.get("event_action") == "trigger":
            payload = event.get("payload") or {}
            if not payload.get("summary") or len(payload["summary"]) > 1024:
                errors.append("'payload.summary' is missing or too long")
            if not payload.get("source"):
                errors.append("'payload.source' is missing")
            if payload.get("severity") not in PD_SEVERITIES:
                errors.append("'payload.severity' is invalid")
        return errors


class FakeAlertHook(FakeServer):
    """A team's endpoint that checks `v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")`."""

    def __init__(self, secret: str = "alert-secret") -> None:
        super().__init__()
        self.secret = secret
        self.alerts: list[dict[str, Any]] = []

    def handle(self, request: Received) -> Reply:
        """POST /alerts."""
        stamp = request.headers.get("x-trackwell-timestamp", "")
        given = request.headers.get("x-trackwell-signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return Reply(401, {"error": "stale or missing timestamp"})
        expected = (
            "v0="
            + hmac.new(
                self.secret.encode(), b"v0:" + stamp.encode() + b":" + request.body, hashlib.sha256
            ).hexdigest()
        )
        if not hmac.compare_digest(expected, given):
            return Reply(401, {"error": "bad signature"})
        self.alerts.append(request.json())
        return Reply(200, {"ok": True})


class FakeMixpanelExport(FakeServer):
    """`GET /api/2.0/export`: JSON Lines of the project's events in [from_date, to_date] (UTC)."""

    def __init__(
        self,
        *,
        service_account: tuple[str, str] = ("sa-user", "sa-secret"),
        project_id: str = "4242",
    ) -> None:
        super().__init__()
        self.service_account, self.project_id = service_account, project_id
        self.events: list[
            dict[str, Any]
        ] = []  # {"event": ..., "properties": {"time": ..., "$insert_id": ...}}

    def handle(self, request: Received) -> Reply:
        """The export endpoint: service-account auth with project_id, a date range, an event list."""
        if request.method != "GET" or request.path != "/api/2.0/export":
            return Reply(404, {"error": "not found"})
        if basic_credentials(request.headers) != self.service_account:
            return Reply(401, {"error": "Invalid credentials"})
        if request.query.get("project_id") != self.project_id:
            return Reply(400, {"error": "project_id is required"})
        first, last = request.query.get("from_date", ""), request.query.get("to_date", "")
        if not first or not last:
            return Reply(400, {"error": "from_date and to_date are required"})
        wanted = set(json.loads(request.query["event"])) if "event" in request.query else None
        lines = []
        for event in self.events:
            day = time.strftime("%Y-%m-%d", time.gmtime(event["properties"]["time"]))
            if first <= day <= last and (wanted is None or event["event"] in wanted):
                lines.append(json.dumps(event))
        return Reply(200, ("\n".join(lines) + "\n").encode(), {"content-type": "text/plain"})
