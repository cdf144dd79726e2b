"""Fake Mixpanel ingestion: `/import` (strict mode, partial success) and `/engage` profile updates
and deletions; and the GDPR API's Create Deletion.

Requests are checked against `schemas/mixpanel-ingestion.json` and `schemas/mixpanel-gdpr.json`,
written from Mixpanel's published Ingestion and GDPR API references: an event or profile update
with an undocumented field, a missing required one or a wrong type is refused in Mixpanel's own
answer format."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.schema import violation
from tests.fakes.server import FakeServer, Received, Reply, basic_credentials, json_size

GDPR_API = "mixpanel-gdpr"
GDPR_DELETIONS = "/api/app/data-deletions/v3.0/"

MAX_EVENTS = 2000
MAX_REQUEST_BYTES = 10 * 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024
MAX_PROPERTIES = 255
INSERT_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
# Values Mixpanel refuses as distinct_id because they betray an instrumentation bug.
PLACEHOLDERS = {"anon", "anonymous", "nil", "none", "null", "n/a", "na", "undefined", "unknown",
                "<nil>", "0", "-1", "true", "false", "[]", "{}",
                "00000000-0000-0000-0000-000000000000"}  # fmt: skip
PROFILE_OPERATIONS = (
    "$set",
    "$set_once",
    "$add",
    "$union",
    "$append",
    "$remove",
    "$unset",
    "$delete",
)
EARLIEST = 31_536_000  # 1971-01-01
API = "mixpanel-ingestion"


class FakeMixpanel(FakeServer):
    """Service account (with project_id) or API secret for /import; the project token for /engage."""

    def __init__(
        self,
        *,
        project_token: str = "token-1",
        api_secret: str = "secret-1",
        service_account: tuple[str, str] = ("sa-user", "sa-secret"),
        project_id: str = "4242",
        gdpr_token: str = "gdpr-oauth-1",
    ) -> None:
        super().__init__()
        self.project_token, self.api_secret = project_token, api_secret
        self.service_account, self.project_id = service_account, project_id
        self.gdpr_token = gdpr_token
        self.events: list[dict[str, Any]] = []  # accepted once each
        self.profiles: dict[str, dict[str, Any]] = {}
        self.profiles_deleted: list[str] = []  # distinct_ids, as /engage's $delete named them
        # GDPR deletion tasks as created: {"task_id", "distinct_ids", "compliance_type"}.
        self.deletion_tasks: list[dict[str, Any]] = []

    def holds(self, distinct_id: str) -> bool:
        """Whether any event or profile of this distinct_id (or device id) is still stored."""
        return distinct_id in self.profiles or any(
            _names(event.get("properties") or {}, {distinct_id}) for event in self.events
        )

    def handle(self, request: Received) -> Reply:
        """POST /import, POST /engage, POST /api/app/data-deletions/v3.0/."""
        if request.method == "POST" and request.path == "/import":
            return self._import(request)
        if request.method == "POST" and request.path == "/engage":
            return self._engage(request)
        if request.method == "POST" and request.path == GDPR_DELETIONS:
            return self._gdpr_deletion(request)
        return Reply(404, {"error": "not found", "status": 0})

    def _import(self, request: Received) -> Reply:
        credentials = basic_credentials(request.headers)
        by_account = credentials == self.service_account
        if by_account and request.query.get("project_id") != self.project_id:
            return Reply(
                400, {"code": 400, "error": "project_id is required", "status": "Bad Request"}
            )
        if not by_account and credentials != (self.api_secret, ""):
            return Reply(401, {"code": 401, "error": "Invalid credentials", "status": "error"})
        if len(request.body) > MAX_REQUEST_BYTES:
            return Reply(413, {"code": 413, "error": "request exceeds 10MB", "status": "error"})
        try:
            events = request.json()
        except ValueError:
            return Reply(400, {"code": 400, "error": "invalid JSON", "status": "Bad Request"})
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list):
            return Reply(
                400, {"code": 400, "error": "expected a JSON array", "status": "Bad Request"}
            )
        if len(events) > MAX_EVENTS:
            return Reply(413, {"code": 413, "error": "more than 2000 events", "status": "error"})
        if (wrong := violation(API, "import", events)) is not None:
            return Reply(400, {"code": 400, "error": str(wrong), "status": "Bad Request"})
        failed, imported = [], 0
        for index, event in enumerate(events):
            problem = check_event(event)
            if problem:
                field, message = problem
                props = event.get("properties") if isinstance(event, dict) else None
                insert_id = props.get("$insert_id") if isinstance(props, dict) else None
                failed.append(
                    {"index": index, "insert_id": insert_id, "field": field, "message": message}
                )
                continue
            imported += 1
            props = event["properties"]
            if self.first_time(f"{props['$insert_id']}|{props['distinct_id']}"):
                self.events.append(event)
        if failed and request.query.get("strict") == "1":
            return Reply(400, {
                "code": 400,
                "error": "some data points in the request failed validation",
                "status": "Bad Request",
                "num_records_imported": imported,
                "failed_records": failed,
            })  # fmt: skip
        return Reply(200, {"code": 200, "num_records_imported": imported, "status": "OK"})

    def _engage(self, request: Received) -> Reply:
        try:
            if request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                updates = json.loads(dict(parse_qsl(request.body.decode()))["data"])
            else:
                updates = request.json()
        except (ValueError, KeyError):
            return Reply(400, {"error": "invalid JSON", "status": 0})
        if isinstance(updates, dict):
            updates = [updates]
        if not isinstance(updates, list) or len(updates) > MAX_EVENTS:
            return Reply(400, {"error": "expected an array of up to 2000 updates", "status": 0})
        if (wrong := violation(API, "engage", updates)) is not None:
            return Reply(400, {"error": str(wrong), "status": 0})
        for update in updates:
            if not isinstance(update, dict) or update.get("$token") != self.project_token:
                return Reply(401, {"error": "invalid project token", "status": 0})
            if (wrong := violation(API, "engage_update", update)) is not None:
                return Reply(400, {"error": str(wrong), "status": 0})
            if not isinstance(update.get("$distinct_id"), str) or not update["$distinct_id"]:
                return Reply(400, {"error": "$distinct_id is required", "status": 0})
            operations = [op for op in PROFILE_OPERATIONS if op in update]
            if len(operations) != 1:
                return Reply(
                    400, {"error": "exactly one profile operation is required", "status": 0}
                )
        for update in updates:
            if "$set" in update:
                self.profiles.setdefault(update["$distinct_id"], {}).update(update["$set"])
            elif "$delete" in update:
                # The profile goes, with all its properties; its events stay (only the GDPR
                # API deletes events).
                self.profiles.pop(update["$distinct_id"], None)
                self.profiles_deleted.append(update["$distinct_id"])
        return Reply(200, {"error": None, "status": 1})

    def _gdpr_deletion(self, request: Received) -> Reply:
        """Create Deletion: the project token in the query, the GDPR OAuth token as Bearer."""
        if request.headers.get("authorization") != f"Bearer {self.gdpr_token}":
            return Reply(401, {"status": "error", "error": "Invalid OAuth token"})
        if request.query.get("token") != self.project_token:
            return Reply(400, {"status": "error", "error": "token is invalid or missing"})
        try:
            body = request.json()
        except ValueError:
            return Reply(400, {"status": "error", "error": "invalid JSON"})
        if (wrong := violation(GDPR_API, "create_deletion", body)) is not None:
            return Reply(400, {"status": "error", "error": str(wrong)})
        ids = set(body["distinct_ids"])
        # The task deletes "all data, including events and user profile data" (done at once here).
        self.events = [e for e in self.events if not _names(e.get("properties") or {}, ids)]
        for distinct_id in ids:
            self.profiles.pop(distinct_id, None)
        task = {
            "task_id": str(uuid.uuid4()),
            "distinct_ids": body["distinct_ids"],
            "compliance_type": body.get("compliance_type", "GDPR"),
        }
        self.deletion_tasks.append(task)
        return Reply(200, {"status": "ok", "results": {"task_id": task["task_id"]}})


def _names(properties: dict[str, Any], ids: set[str]) -> bool:
    """Whether an event's properties name one of `ids` (as distinct_id, $user_id or, written
    `$device:<id>`, its device id)."""
    device = properties.get("$device_id")
    named = {properties.get("distinct_id"), properties.get("$user_id")}
    if device is not None:
        named.add(f"$device:{device}")
    return bool(named & ids)


def check_event(event: Any) -> tuple[str, str] | None:
    """/import's per-event validation: the field and Mixpanel's message."""
    if (wrong := violation(API, "import_event", event)) is not None:
        return wrong.field, wrong.message
    if not isinstance(event, dict) or not isinstance(event.get("properties"), dict):
        return "properties", "'properties' must be an object"
    if not isinstance(event.get("event"), str) or not event["event"]:
        return "event", "'event' must be a non-empty string"
    if json_size(event) > MAX_EVENT_BYTES:
        return "", "event exceeds 1MB"
    props = event["properties"]
    if len(props) > MAX_PROPERTIES:
        return "properties", f"more than {MAX_PROPERTIES} properties"
    stamp = props.get("time")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return (
            "properties.time",
            "'properties.time' is invalid: must be specified as seconds since epoch",
        )
    seconds = stamp / 1000 if stamp > 1e11 else stamp
    if seconds < EARLIEST or seconds > time.time() + 3600:
        return "properties.time", "'properties.time' is out of range"
    distinct_id = props.get("distinct_id")
    if not isinstance(distinct_id, str) or distinct_id.lower() in PLACEHOLDERS:
        return "properties.distinct_id", "'properties.distinct_id' is invalid"
    insert_id = props.get("$insert_id")
    if not isinstance(insert_id, str) or not INSERT_ID.match(insert_id):
        return "properties.$insert_id", "'properties.$insert_id' is invalid"
    return None
