"""Fake Amplitude HTTP V2 API (`/2/httpapi`) and User Privacy API (`/api/2/deletions/users`).

Requests are checked against `schemas/amplitude-http-v2.json`, written from Amplitude's HTTP V2
reference: an undocumented event key, a wrong type or a missing id is named in
`events_with_invalid_fields` / `events_with_missing_fields` as Amplitude does. Deletion requests
are checked against `schemas/amplitude-user-privacy.json`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.schema import violation
from tests.fakes.server import FakeServer, Received, Reply, basic_credentials

MAX_EVENTS = 2000
MAX_REQUEST_BYTES = 1_000_000
DEFAULT_MIN_ID_LENGTH = 5
API = "amplitude-http-v2"
PRIVACY_API = "amplitude-user-privacy"
DELETIONS = "/api/2/deletions/users"


class FakeAmplitude(FakeServer):
    """API key in the body; a 400 rejects the whole batch naming the bad events; 413 over limits;
    events de-duplicated by insert_id."""

    def __init__(
        self,
        api_key: str = "amp-key-1",
        *,
        secret_key: str = "amp-secret-1",
        max_body_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        super().__init__()
        self.api_key, self.secret_key = api_key, secret_key
        self.max_body_bytes = max_body_bytes  # lower it to exercise splitting on 413
        self.events: list[dict[str, Any]] = []  # accepted once each
        self.deletion_jobs: list[dict[str, Any]] = []  # deletion request bodies, as accepted

    def holds(self, user_id: str) -> bool:
        """Whether any event of this user id is still stored."""
        return any(event.get("user_id") == user_id for event in self.events)

    def handle(self, request: Received) -> Reply:
        """POST /2/httpapi and POST /api/2/deletions/users."""
        if request.method == "POST" and request.path == DELETIONS:
            return self._deletion(request)
        if request.method != "POST" or request.path != "/2/httpapi":
            return Reply(404, {"code": 404, "error": "not found"})
        if len(request.body) > self.max_body_bytes:
            return Reply(413, {"code": 413, "error": "Payload too large"})
        try:
            body = request.json()
        except ValueError:
            return Reply(400, {"code": 400, "error": "Invalid JSON request body"})
        if not isinstance(body, dict) or not body.get("api_key"):
            return Reply(
                400,
                {
                    "code": 400,
                    "error": "Request missing required field",
                    "missing_field": "api_key",
                },
            )
        if body["api_key"] != self.api_key:
            return Reply(
                400, {"code": 400, "error": "Invalid API key: " + str(body["api_key"])[:8]}
            )
        events = body.get("events")
        if not isinstance(events, list) or not events:
            return Reply(
                400,
                {"code": 400, "error": "Request missing required field", "missing_field": "events"},
            )
        if len(events) > MAX_EVENTS:
            return Reply(413, {"code": 413, "error": "Too many events in request"})
        if (wrong := violation(API, "upload", body)) is not None:
            return Reply(400, {"code": 400, "error": f"Invalid request: {wrong}"})
        options = body.get("options") or {}
        shortest = options.get("min_id_length") or DEFAULT_MIN_ID_LENGTH
        invalid: dict[str, list[int]] = {}
        missing: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            check_event(event, index, shortest, invalid, missing)
        if invalid or missing:
            return Reply(400, {
                "code": 400,
                "error": "Request missing required field" if missing else "Invalid field values on some events",
                "events_with_invalid_fields": invalid,
                "events_with_missing_fields": missing,
            })  # fmt: skip
        for event in events:
            key = event.get("insert_id")
            if key is None or self.first_time(str(key)):
                self.events.append(event)
        return Reply(200, {
            "code": 200,
            "events_ingested": len(events),
            "payload_size_bytes": len(request.body),
            "server_upload_time": int(time.time() * 1000),
        })  # fmt: skip

    def _deletion(self, request: Received) -> Reply:
        """A deletion job for the user ids: Basic auth with the API key and the secret key."""
        if basic_credentials(request.headers) != (self.api_key, self.secret_key):
            return Reply(401, {"error": "Invalid API key or secret key"})
        try:
            body = request.json()
        except ValueError:
            return Reply(400, {"error": "Invalid JSON request body"})
        if (wrong := violation(PRIVACY_API, "deletion", body)) is not None:
            return Reply(400, {"error": f"Invalid request: {wrong}"})
        user_ids = body.get("user_ids", [])
        unknown = [u for u in user_ids if not self.holds(u)]
        if unknown and not body.get("ignore_invalid_ids"):
            return Reply(400, {"error": f"Invalid user ids: {len(unknown)} not found"})
        # Amplitude deletes "all events and user properties" of each id when the job runs.
        self.events = [e for e in self.events if e.get("user_id") not in set(user_ids)]
        self.deletion_jobs.append(body)
        day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        return Reply(200, [{
            "day": day,
            "status": "staging",
            "amplitude_ids": [
                {"amplitude_id": 1000 + i, "requester": body.get("requester"),
                 "requested_on_day": datetime.now(UTC).date().isoformat()}
                for i, _ in enumerate(user_ids)
            ],
        }])  # fmt: skip


def check_event(
    event: Any,
    index: int,
    shortest: int,
    invalid: dict[str, list[int]],
    missing: dict[str, list[int]],
) -> None:
    """Record the fields one event lacks or gets wrong."""
    if not isinstance(event, dict):
        invalid.setdefault("event", []).append(index)
        return
    if (wrong := violation(API, "event", event)) is not None:
        # Amplitude counts an absent, null or empty field as missing, anything else as invalid.
        absent = wrong.message == "is required" or wrong.message.startswith("needs one of")
        named = missing if absent or event.get(wrong.field, 0) in (None, "") else invalid
        named.setdefault(wrong.field or "event", []).append(index)
        return
    if not isinstance(event.get("event_type"), str) or not event["event_type"]:
        missing.setdefault("event_type", []).append(index)
    ids = 0
    for key in ("user_id", "device_id"):
        value = event.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) < shortest:
            invalid.setdefault(key, []).append(index)  # Amplitude drops short ids
        else:
            ids += 1
    if ids == 0 and not any(index in v for v in invalid.values()):
        missing.setdefault("user_id", []).append(index)
    stamp = event.get("time")
    if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int)):
        invalid.setdefault("time", []).append(index)
    for key in ("event_properties", "user_properties", "groups"):
        if key in event and not isinstance(event[key], dict):
            invalid.setdefault(key, []).append(index)
