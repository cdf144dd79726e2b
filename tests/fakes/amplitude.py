"""Fake Amplitude HTTP V2 API (`/2/httpapi`).

Requests are checked against `schemas/amplitude-http-v2.json`, written from Amplitude's HTTP V2
reference: an undocumented event key, a wrong type or a missing id is named in
`events_with_invalid_fields` / `events_with_missing_fields` as Amplitude does."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.schema import violation
from tests.fakes.server import FakeServer, Received, Reply

MAX_EVENTS = 2000
MAX_REQUEST_BYTES = 1_000_000
DEFAULT_MIN_ID_LENGTH = 5
API = "amplitude-http-v2"


class FakeAmplitude(FakeServer):
    """API key in the body; a 400 rejects the whole batch naming the bad events; 413 over limits;
    events de-duplicated by insert_id."""

    def __init__(
        self, api_key: str = "amp-key-1", *, max_body_bytes: int = MAX_REQUEST_BYTES
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes  # lower it to exercise splitting on 413
        self.events: list[dict[str, Any]] = []  # accepted once each

    def handle(self, request: Received) -> Reply:
        """POST /2/httpapi."""
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
