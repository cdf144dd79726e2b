"""Mixpanel: events through `/import` (strict mode), identify as profile updates through `/engage`.

Request shapes: Mixpanel's Ingestion API reference (docs.mixpanel.com/reference, OpenAPI
`ingestion.openapi.yaml`). `POST /import?strict=1&project_id=...` (operationId import-events):
a JSON array of `{"event", "properties": {"time", "distinct_id", "$insert_id", ...}}`, Basic auth
with a service account or the project secret. `POST /engage?verbose=1` (profile-set,
profile-batch-update): a JSON array of `{"$token", "$distinct_id", "$set", "$ip"}`. Mixpanel's
`/groups` is not used: group calls are not sent to Mixpanel. Privacy requests: `privacy`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal, Unpack
from urllib.parse import urlencode, urlsplit

from trackwell.core.messages import WireMessage
from trackwell.core.outcomes import Outcome
from trackwell.core.privacy import RequestKind, Subject
from trackwell.destinations.base import (
    DestinationSettings,
    Outgoing,
    Prepared,
    PrivacyAnswer,
    SettingKeywords,
)
from trackwell.destinations.common import (
    Credential,
    HttpDestination,
    UnsendableError,
    basic_auth,
    classify_response,
    dead,
    env_var,
    epoch_ms,
    json_bytes,
    json_headers,
    message_id,
    one_of,
    page_event_name,
    response_json,
    within,
)
from trackwell.destinations.http import HttpRequest, HttpResponse
from trackwell.destinations.privacy import PrivacyCall, carry_out, people

HOSTS = {
    "us": "https://api.mixpanel.com",
    "eu": "https://api-eu.mixpanel.com",
    "in": "https://api-in.mixpanel.com",
}
# The application API, which serves the GDPR API, per data residency (gdpr.openapi.yaml servers).
APP_HOSTS = {
    "us": "https://mixpanel.com",
    "eu": "https://eu.mixpanel.com",
    "in": "https://in.mixpanel.com",
}
GDPR_DELETIONS_PATH = "/api/app/data-deletions/v3.0/"
# distinct_ids a deletion request may name: the reference says 2000 in one place, 1999 in another.
MAX_GDPR_IDS = 1999
# /import's documented limits: 2000 events and 10 MB (uncompressed) a request, 1 MB and 255
# properties an event.
MAX_EVENTS = 2000
MAX_REQUEST_BYTES = 10_000_000
MAX_EVENT_BYTES = 1_000_000
MAX_PROPERTIES = 255
MAX_ENGAGE_BYTES = 1_000_000
_INSERT_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
# Segment's reserved traits and the names Mixpanel gives them on a profile.
_PROFILE_NAMES = {
    "email": "$email",
    "name": "$name",
    "firstName": "$first_name",
    "first_name": "$first_name",
    "lastName": "$last_name",
    "last_name": "$last_name",
    "phone": "$phone",
    "avatar": "$avatar",
    "createdAt": "$created",
    "created_at": "$created",
}


class Mixpanel(HttpDestination):
    """Mixpanel ingestion: a service account (or the project's API secret) for /import, the
    project token for /engage."""

    default_batch_size = 1000
    kind = "mixpanel"
    supported_types = frozenset(["identify", "track", "page", "screen"])

    def __init__(
        self,
        name: str | None = None,
        *,
        project_token: str | None = None,
        api_secret: str | None = None,
        service_account_username: str | None = None,
        service_account_secret: str | None = None,
        project_id: str | None = None,
        gdpr_token: str | None = None,
        region: Literal["us", "eu", "in"] = "us",
        base_url: str | None = None,
        settings: DestinationSettings | None = None,
        **common: Unpack[SettingKeywords],
    ) -> None:
        self.region = one_of("region", region, HOSTS)
        self.project_id = project_id
        self._token = project_token or ""
        # The GDPR API's OAuth token (optional): with it an erase deletes events too.
        self._gdpr_token = gdpr_token or None
        # A custom base_url (a proxy, a test server) serves the GDPR API as well.
        self.app_url = (base_url or APP_HOSTS[self.region]).rstrip("/")
        self._auth: str | None = None
        if service_account_username and service_account_secret:
            if not project_id:
                raise ValueError("project_id is required with a Mixpanel service account")
            self._auth = basic_auth(service_account_username, service_account_secret)
        elif api_secret:
            self._auth = basic_auth(api_secret, "")
        super().__init__(
            name,
            missing=_missing(
                project_token, api_secret, service_account_username, service_account_secret
            ),
            base_url=base_url or HOSTS[region],
            settings=settings,
            **common,
        )

    def tool_settings(self) -> dict[str, Any]:
        """Region, project id (an id, not a credential), whether the GDPR API is configured."""
        return {
            "region": self.region,
            "project_id": self.project_id,
            "gdpr_deletion": self._gdpr_token is not None,
        }

    def privacy(
        self, kind: RequestKind, subject: Subject, *, request_id: str | None = None
    ) -> PrivacyAnswer:
        """Erase: delete each profile through `/engage` and, when a GDPR token is configured,
        ask the GDPR API to delete the person's events too. Mixpanel has no suppression call.

        The person's distinct_ids are those this destination sends: the user ids, and
        `$device:<anonymous id>` for what it sent anonymously."""
        if kind != "erase":
            return PrivacyAnswer(
                "not_supported",
                f"Mixpanel has no API to {kind} a person; trackwell itself stops or resumes"
                " sending their messages",
            )
        distinct_ids = [*subject.user_ids, *(f"$device:{a}" for a in subject.anonymous_ids)]
        if not distinct_ids:
            return PrivacyAnswer(
                "not_supported", "Mixpanel knows people by user or anonymous id; none was given"
            )
        calls = [
            PrivacyCall(self._profile_deletion(distinct_ids[i : i + MAX_EVENTS]), _engage_answer)
            for i in range(0, len(distinct_ids), MAX_EVENTS)  # /engage takes 2000 updates a call
        ]
        if self._gdpr_token is None:
            note = (
                f"profiles only, for {people(len(distinct_ids))}: their events stay in Mixpanel"
                f" (set {env_var(self.name, 'gdpr_token')} to delete them through the GDPR API)"
            )
        else:
            note = f"GDPR deletion requested for {people(len(distinct_ids))}"
            for start in range(0, len(distinct_ids), MAX_GDPR_IDS):
                chunk = distinct_ids[start : start + MAX_GDPR_IDS]
                calls.append(PrivacyCall(self._gdpr_deletion(chunk), _gdpr_answer))
        return carry_out(self, calls, note)

    def _profile_deletion(self, distinct_ids: Sequence[str]) -> HttpRequest:
        """`POST /engage#profile-delete` (https://docs.mixpanel.com/reference/delete-profile):
        `$token`, `$distinct_id`, `$delete` (its value ignored) and `$ignore_alias` false, so
        an id that is an alias deletes the profile it stands for."""
        updates = [
            {"$token": self._token, "$distinct_id": d, "$delete": "", "$ignore_alias": False}
            for d in distinct_ids
        ]
        return HttpRequest(
            "POST", self.url("/engage?verbose=1"), json_headers(), json_bytes(updates)
        )

    def _gdpr_deletion(self, distinct_ids: Sequence[str]) -> HttpRequest:
        """Create Deletion, GDPR API v3 (https://docs.mixpanel.com/reference/gdpr-api):
        `POST /api/app/data-deletions/v3.0/?token=<project token>` with the GDPR OAuth token
        as Bearer and `{"distinct_ids": [...], "compliance_type": "GDPR"}` (up to 1999 ids)."""
        headers = json_headers(authorization=f"Bearer {self._gdpr_token}")
        body = json_bytes({"distinct_ids": list(distinct_ids), "compliance_type": "GDPR"})
        url = f"{self.app_url}{GDPR_DELETIONS_PATH}?{urlencode({'token': self._token})}"
        return HttpRequest("POST", url, headers, body)

    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        """Profile updates first (identify before track), then events, each in sized batches."""
        prepared = Prepared()
        mapped = self.mapped(messages, prepared, self._map)
        count = min(self.batch_size, MAX_EVENTS)
        self.batched(
            prepared,
            [(index, item) for index, (kind, item) in mapped if kind == "profile"],
            partial(self._request, "/engage?verbose=1", auth=False),
            max_count=count,
            max_bytes=MAX_ENGAGE_BYTES,
            what="the profile update",
        )
        query = "/import?" + urlencode(
            {"strict": 1, "project_id": self.project_id} if self.project_id else {"strict": 1}
        )
        self.batched(
            prepared,
            [(index, item) for index, (kind, item) in mapped if kind == "event"],
            partial(self._request, query, auth=True),
            max_count=count,
            max_bytes=MAX_REQUEST_BYTES,
            max_item_bytes=MAX_EVENT_BYTES,
            what="the event",
        )
        return prepared

    def parse(
        self, response: HttpResponse, outgoing: Outgoing, messages: Sequence[WireMessage]
    ) -> dict[int, Outcome]:
        """/import's 400 is a partial success naming `failed_records`; /engage says `status`."""
        data = response_json(response)
        if urlsplit(outgoing.request.url).path.endswith("/engage"):
            if response.status == 200 and isinstance(data, dict) and data.get("status") == 0:
                return dict.fromkeys(outgoing.indices, dead(f"Mixpanel: {data.get('error')}"))
            return dict.fromkeys(outgoing.indices, classify_response(response))
        failed = data.get("failed_records") if isinstance(data, dict) else None
        if response.status != 400 or not isinstance(failed, list) or not failed:
            return dict.fromkeys(outgoing.indices, classify_response(response))
        # Mixpanel ingested every record it does not name.
        outcomes = dict.fromkeys(outgoing.indices, Outcome("delivered"))
        for record in failed:
            position = record.get("index") if isinstance(record, dict) else None
            if isinstance(position, int) and 0 <= position < len(outgoing.indices):
                field, text = record.get("field"), record.get("message") or "failed validation"
                reason = f"{field}: {text}" if field else str(text)
                outcomes[outgoing.indices[position]] = dead(f"Mixpanel: {reason}")
        return outcomes

    def _request(self, path_and_query: str, body: bytes, *, auth: bool) -> HttpRequest:
        headers = json_headers()
        if auth and self._auth:
            headers["authorization"] = self._auth
        return HttpRequest("POST", self.url(path_and_query), headers, body)

    def _map(self, message: WireMessage) -> tuple[str, dict[str, Any]]:
        if message["type"] == "identify":
            return "profile", self._profile(message)
        return "event", self._event(message)

    def _event(self, message: WireMessage) -> dict[str, Any]:
        kind = message["type"]
        name = message.get("event") if kind == "track" else page_event_name(message)
        user_id, anonymous_id = message.get("userId"), message.get("anonymousId")
        properties: dict[str, Any] = dict(message.get("properties") or {})
        properties.update(
            time=epoch_ms(message),
            distinct_id=_distinct_id(message),
            **{"$insert_id": insert_id(message_id(message))},
        )
        # Both ids on one event is how Mixpanel's simplified ID merge ties device to user.
        if user_id:
            properties["$user_id"] = str(user_id)
        if anonymous_id:
            properties["$device_id"] = str(anonymous_id)
        if self._token:
            properties["token"] = self._token
        ip = (message.get("context") or {}).get("ip")
        if ip:
            properties["ip"] = ip
        within(len(properties), MAX_PROPERTIES, "the number of properties")
        return {"event": name, "properties": properties}

    def _profile(self, message: WireMessage) -> dict[str, Any]:
        traits = message.get("traits") or {}
        update: dict[str, Any] = {
            "$token": self._token,
            "$distinct_id": _distinct_id(message),
            "$set": {_PROFILE_NAMES.get(key, key): value for key, value in traits.items()},
        }
        ip = (message.get("context") or {}).get("ip")
        if ip:
            update["$ip"] = ip
        return update


def _engage_answer(response: HttpResponse) -> PrivacyAnswer:
    """/engage answers 200 with `status` 0 and an `error` when it refused the updates."""
    data = response_json(response)
    if isinstance(data, dict) and data.get("status") == 0:
        return PrivacyAnswer("failed", f"Mixpanel: {data.get('error')}")
    return PrivacyAnswer("done", f"Mixpanel /engage HTTP {response.status}")


def _gdpr_answer(response: HttpResponse) -> PrivacyAnswer:
    """The GDPR API names the deletion task it created: `results.task_id` in one example of
    the reference, `results[].tracking_id` in another; either is reported."""
    data = response_json(response)
    results = data.get("results") if isinstance(data, dict) else None
    entries = results if isinstance(results, list) else [results]
    tasks = [
        str(entry.get("task_id") or entry.get("tracking_id"))
        for entry in entries
        if isinstance(entry, dict) and (entry.get("task_id") or entry.get("tracking_id"))
    ]
    suffix = f", task {', '.join(tasks)}" if tasks else ""
    return PrivacyAnswer("done", f"Mixpanel GDPR API HTTP {response.status}{suffix}")


def _distinct_id(message: WireMessage) -> str:
    user_id, anonymous_id = message.get("userId"), message.get("anonymousId")
    if user_id:
        return str(user_id)
    if anonymous_id:
        return f"$device:{anonymous_id}"
    raise UnsendableError("Mixpanel needs a userId or an anonymousId")


def insert_id(message_id: str) -> str:
    """Mixpanel's de-duplication key: the message id when it fits (36 chars of [A-Za-z0-9-]),
    otherwise a stable hash of it."""
    if _INSERT_ID.match(message_id):
        return message_id
    return hashlib.sha256(message_id.encode()).hexdigest()[:32]


def _missing(
    project_token: str | None,
    api_secret: str | None,
    username: str | None,
    secret: str | None,
) -> list[Credential]:
    """What Mixpanel lacks: the token for /engage, and the API secret or a service account for /import."""
    missing = [] if project_token else [Credential("project_token")]
    if api_secret or (username and secret):
        return missing
    if username or secret:
        # A service account half given: name its other half rather than the API secret.
        missing.append(
            Credential("service_account_secret" if username else "service_account_username")
        )
    else:
        missing.append(
            Credential("api_secret", ("service_account_username", "service_account_secret"))
        )
    return missing
