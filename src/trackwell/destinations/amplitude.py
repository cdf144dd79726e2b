"""Amplitude HTTP V2 API (`/2/httpapi`): events with `insert_id`, identify as `$identify`.

Request shape: Amplitude's HTTP V2 reference (amplitude.com/docs/apis/analytics/http-v2, "Upload
request body" and "Keys for the event argument"): `{"api_key", "events", "options"}`, each event
with `event_type`, `user_id` and/or `device_id`, `time` in Unix milliseconds, `insert_id`. Identify
and group membership are `$identify` events carrying `user_properties` operations, as Amplitude's
own SDKs send them to this endpoint (analytics-core `createIdentifyEvent`, `setGroup`).
Privacy requests: `privacy`, through the User Privacy API.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Literal, Unpack

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
    required,
    response_json,
)
from trackwell.destinations.http import HttpRequest, HttpResponse
from trackwell.destinations.privacy import PrivacyCall, carry_out, people

HOSTS = {"us": "https://api2.amplitude.com", "eu": "https://api.eu.amplitude.com"}
# The User Privacy API's hosts ("Regions" of amplitude.com/docs/apis/analytics/user-privacy).
PRIVACY_HOSTS = {"us": "https://amplitude.com", "eu": "https://analytics.eu.amplitude.com"}
DELETIONS_PATH = "/api/2/deletions/users"
MAX_DELETION_IDS = 100  # user ids a deletion request may name
REQUESTER = "trackwell"
# HTTP V2's documented limits: under 1 MB and 2000 events a request (413 beyond).
MAX_EVENTS = 2000
MAX_REQUEST_BYTES = 1_000_000
DEFAULT_MIN_ID_LENGTH = 5  # Amplitude drops shorter user and device ids
THROTTLE_WAIT_SECONDS = 30.0  # Amplitude's advice after a 429, which carries no Retry-After


class Amplitude(HttpDestination):
    """Amplitude's HTTP V2 ingestion endpoint; the API key travels in the body."""

    default_batch_size = 500
    kind = "amplitude"
    supported_types = frozenset(["identify", "track", "page", "screen", "group"])

    def __init__(
        self,
        name: str | None = None,
        *,
        api_key: str | None = None,
        region: Literal["us", "eu"] = "us",
        group_type: str = "group",
        min_id_length: int | None = None,
        secret_key: str | None = None,
        base_url: str | None = None,
        settings: DestinationSettings | None = None,
        **common: Unpack[SettingKeywords],
    ) -> None:
        self.region = one_of("region", region, HOSTS)
        self.group_type = group_type
        self.min_id_length = min_id_length
        self._api_key = api_key
        # The project's secret key (optional): the User Privacy API's Basic auth password.
        self._secret_key = secret_key or None
        # A custom base_url (a proxy, a test server) serves the User Privacy API as well.
        self.privacy_url = (base_url or PRIVACY_HOSTS[self.region]).rstrip("/")
        super().__init__(
            name,
            missing=required(api_key=api_key),
            base_url=base_url or HOSTS[region],
            settings=settings,
            **common,
        )

    def tool_settings(self) -> dict[str, Any]:
        """Region, group type and id length option."""
        return {
            "region": self.region,
            "group_type": self.group_type,
            "min_id_length": self.min_id_length,
            "privacy_api": self._secret_key is not None,
        }

    def privacy(
        self, kind: RequestKind, subject: Subject, *, request_id: str | None = None
    ) -> PrivacyAnswer:
        """Erase: a deletion job per 100 user ids through the User Privacy API. Amplitude has
        no suppression call (it accepts new events from a deleted user), and deletes by user
        id or Amplitude id only, never by device id."""
        if kind != "erase":
            return PrivacyAnswer(
                "not_supported",
                f"Amplitude has no API to {kind} a person; trackwell itself stops or resumes"
                " sending their messages",
            )
        if self._secret_key is None:
            return PrivacyAnswer(
                "not_supported",
                f"Amplitude's User Privacy API needs the project's secret key: set"
                f" {env_var(self.name, 'secret_key')}",
            )
        user_ids = list(subject.user_ids)
        if not user_ids:
            return PrivacyAnswer(
                "not_supported",
                "Amplitude deletes users by user id only; an anonymous visitor's device id"
                " cannot be named",
            )
        calls = [
            PrivacyCall(
                self._deletion(user_ids[start : start + MAX_DELETION_IDS]), _deletion_answer
            )
            for start in range(0, len(user_ids), MAX_DELETION_IDS)
        ]
        return carry_out(self, calls, f"deletion requested for {people(len(user_ids))}")

    def _deletion(self, user_ids: Sequence[str]) -> HttpRequest:
        """User Privacy API (https://amplitude.com/docs/apis/analytics/user-privacy): `POST
        /api/2/deletions/users`, Basic auth with API key and secret key, `user_ids` (up to 100),
        `requester`, and `ignore_invalid_ids` so an id Amplitude never saw (a person whose
        events were all filtered out) does not refuse the whole job."""
        body = {"user_ids": list(user_ids), "requester": REQUESTER, "ignore_invalid_ids": True}
        headers = json_headers(
            authorization=basic_auth(self._api_key or "", self._secret_key or "")
        )
        return HttpRequest("POST", self.privacy_url + DELETIONS_PATH, headers, json_bytes(body))

    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        """Events in batches under 1 MB and 2000 events."""
        prepared = Prepared()
        head = b'{"api_key":' + json_bytes(self._api_key or "")
        if self.min_id_length is not None:
            head += b',"options":' + json_bytes({"min_id_length": self.min_id_length})
        self.batched(
            prepared,
            self.mapped(messages, prepared, self._event),
            partial(HttpRequest, "POST", self.url("/2/httpapi"), json_headers()),
            max_count=min(self.batch_size, MAX_EVENTS),
            max_bytes=MAX_REQUEST_BYTES,
            head=head + b',"events":',
            tail=b"}",
            what="the event",
        )
        return prepared

    def parse(
        self, response: HttpResponse, outgoing: Outgoing, messages: Sequence[WireMessage]
    ) -> dict[int, Outcome]:
        """A 400 rejects the whole batch, naming the bad events: those are dead, the rest resent."""
        data = response_json(response)
        if response.status == 429 and "retry-after" not in response.headers:
            error = f"HTTP 429: {data.get('error') if isinstance(data, dict) else response.text()}"
            return dict.fromkeys(outgoing.indices, Outcome("retry", error, THROTTLE_WAIT_SECONDS))
        bad = _named_events(data) if response.status == 400 else {}
        if not bad:
            return dict.fromkeys(outgoing.indices, classify_response(response))
        outcomes: dict[int, Outcome] = {}
        for position, index in enumerate(outgoing.indices):
            if position in bad:
                outcomes[index] = dead(f"Amplitude: {', '.join(bad[position])}")
            else:
                # Amplitude ingested nothing from this batch: resend the good ones at once.
                outcomes[index] = Outcome("retry", "batch rejected for other events; resend", 0.0)
        return outcomes

    def _event(self, message: WireMessage) -> dict[str, Any]:
        kind = message["type"]
        user_id, device_id = message.get("userId"), message.get("anonymousId")
        shortest = self.min_id_length or DEFAULT_MIN_ID_LENGTH
        if not any(value and len(str(value)) >= shortest for value in (user_id, device_id)):
            raise UnsendableError(
                f"Amplitude needs a userId or anonymousId of at least {shortest} characters "
                "(set min_id_length to accept shorter ids)"
            )
        event: dict[str, Any] = {
            "time": epoch_ms(message),
            "insert_id": message_id(message),  # Amplitude ignores a repeat within 7 days
        }
        if user_id:
            event["user_id"] = str(user_id)
        if device_id:
            event["device_id"] = str(device_id)
        if kind == "track":
            event["event_type"] = message.get("event")
            event["event_properties"] = dict(message.get("properties") or {})
        elif kind in ("page", "screen"):
            event["event_type"] = page_event_name(message)
            event["event_properties"] = dict(message.get("properties") or {})
        elif kind == "identify":
            event["event_type"] = "$identify"
            event["user_properties"] = {"$set": dict(message.get("traits") or {})}
        else:
            # group: the person joins the group, as the SDKs' setGroup does (`groups`, and the
            # group set as a user property); group properties need a `$groupidentify` event.
            group_id = str(message.get("groupId"))
            event["event_type"] = "$identify"
            event["groups"] = {self.group_type: group_id}
            event["user_properties"] = {"$set": {self.group_type: group_id}}
        context = message.get("context") or {}
        if context.get("ip"):
            event["ip"] = context["ip"]
        if isinstance(context.get("library"), dict) and context["library"].get("name"):
            # Not in the reference's key table, but sent by Amplitude's own SDKs (EventOptions).
            event["library"] = str(context["library"]["name"])
        return event


def _deletion_answer(response: HttpResponse) -> PrivacyAnswer:
    """The answer lists the jobs created: each with the `day` it runs and its `status`."""
    data = response_json(response)
    jobs = data if isinstance(data, list) else [data]
    words = [
        f"{job.get('status')} for {job.get('day')}"
        for job in jobs
        if isinstance(job, dict) and job.get("day")
    ]
    suffix = f", job {', '.join(dict.fromkeys(words))}" if words else ""
    return PrivacyAnswer("done", f"Amplitude HTTP {response.status}{suffix}")


def _named_events(data: Any) -> dict[int, list[str]]:
    """Positions named in a 400's `events_with_invalid_fields` / `events_with_missing_fields`."""
    named: dict[int, list[str]] = {}
    if not isinstance(data, dict):
        return named
    for key, problem in (
        ("events_with_invalid_fields", "invalid"),
        ("events_with_missing_fields", "missing"),
    ):
        fields = data.get(key)
        if not isinstance(fields, dict):
            continue
        for field, positions in fields.items():
            for position in positions if isinstance(positions, list) else []:
                if isinstance(position, int):
                    named.setdefault(position, []).append(f"{problem} {field}")
    return named
