"""Segment-compatible `/v1/batch`: Segment, Customer.io Data Pipelines, RudderStack, Jitsu, trackwell.

Request shape: Segment's HTTP Tracking API reference (segment.com/docs/connections/sources/
catalog/libraries/server/http-api/, "Batch"): `POST /v1/batch` with the write key as the Basic
auth user, body `{"batch": [...], "sentAt": ...}`, each message in the Segment Spec (common fields
`type`, `userId`/`anonymousId`, `messageId`, `timestamp`, `context`, `integrations`), at most
32 KB a message and 500 KB a batch; `X-Strict-Mode: 1` for real error statuses.

Privacy requests (`privacy`) go one of two documented ways, chosen by `privacy`:
- `"semantic"`: Customer.io Data Pipelines' `User Deleted`, `User Suppressed` and `User
  Unsuppressed` track calls through this same `/v1/batch`, which that endpoint performs
  (https://docs.customer.io/integrations/data-in/semantic-events/cio-journeys/); the default
  wherever this destination sends operations (Data Pipelines' hosts, or `operations = true`).
- `"regulations"`: Segment's Public API regulations (`POST https://api.segmentapis.com/regulations`,
  https://docs.segmentapis.com/tag/Deletion-and-Suppression), with a Public API token; the
  default when that token is configured. Tracking API write keys cannot create regulations.
Any other Segment-compatible endpoint documents no deletion call through `/v1/batch`, so there
a request is not supported until one of the two is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Unpack
from urllib.parse import urlsplit

from trackwell.core.messages import WireMessage, format_time
from trackwell.core.operations import OPERATIONS, PERSON_OPERATIONS
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
    action_time,
    basic_auth,
    classify_response,
    env_var,
    json_bytes,
    json_headers,
    one_of,
    required,
    response_json,
)
from trackwell.destinations.http import HttpRequest, HttpResponse
from trackwell.destinations.privacy import (
    PrivacyCall,
    carry_out,
    from_outcomes,
    operation_messages,
    people,
)

DEFAULT_BASE_URL = "https://api.segment.io"
# Customer.io Data Pipelines' Segment-compatible API (US and EU), which performs the operations.
PIPELINES_HOSTS = frozenset(["cdp.customer.io", "cdp-eu.customer.io"])
# Segment's documented limits: 32 KB a message, 500 KB a batch (the official library keeps
# the batch under 475,000 bytes to leave room for what the server adds).
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 475_000
# Per-hop fields: the receiver stamps its own; the action time travels in `timestamp`, already
# corrected for the original client's clock, so re-sending the old sentAt would skew it again.
# A `writeKey` a client put in a message is trackwell's source credential, never the next hop's.
_HOP_FIELDS = ("sentAt", "receivedAt", "originalTimestamp", "writeKey")
PrivacyMethod = Literal["semantic", "regulations"]
PRIVACY_METHODS = ("semantic", "regulations")
# Segment's Public API (US; the EU workspaces' host is https://eu1.api.segmentapis.com).
DEFAULT_REGULATIONS_URL = "https://api.segmentapis.com"
# The regulation that performs each request kind: an erase also keeps the person out for good,
# as trackwell's own erase does; SUPPRESS_ONLY deletes nothing; UNSUPPRESS lifts a suppression.
REGULATION_TYPES: dict[RequestKind, str] = {
    "erase": "SUPPRESS_WITH_DELETE",
    "suppress": "SUPPRESS_ONLY",
    "unsuppress": "UNSUPPRESS",
}
MAX_REGULATION_IDS = 5000  # userIds one regulation may name


class SegmentCompatible(HttpDestination):
    """Any endpoint speaking Segment's HTTP tracking API, authenticated by a write key."""

    kind = "segment"
    default_base_url = DEFAULT_BASE_URL

    def __init__(
        self,
        name: str | None = None,
        *,
        write_key: str | None = None,
        operations: bool | None = None,
        privacy: PrivacyMethod | None = None,
        regulations_token: str | None = None,
        regulations_url: str = DEFAULT_REGULATIONS_URL,
        base_url: str | None = None,
        settings: DestinationSettings | None = None,
        **common: Unpack[SettingKeywords],
    ) -> None:
        self._auth = basic_auth(write_key, "") if write_key else None
        self._regulations_token = regulations_token or None
        self.regulations_url = regulations_url.rstrip("/")
        if not self.regulations_url.startswith(("http://", "https://")):
            raise ValueError(f"regulations_url must be an http(s) URL, got {regulations_url!r}")
        # Operations travel as Customer.io Data Pipelines' semantic events, which that endpoint
        # performs (https://docs.customer.io/integrations/data-in/semantic-events/cio-journeys/).
        # Any other Segment-compatible endpoint would take `User Deleted` as an ordinary event and
        # delete nobody, so "delivered" would be untrue: there they are sent only when asked for.
        if operations is None:
            operations = urlsplit(base_url or DEFAULT_BASE_URL).hostname in PIPELINES_HOSTS
        self.operations = OPERATIONS if operations else frozenset()
        if privacy is None:
            privacy = "regulations" if regulations_token else "semantic" if operations else None
        self.privacy_method: PrivacyMethod | None = privacy
        if privacy is not None:
            one_of("privacy", privacy, PRIVACY_METHODS)
        if privacy == "semantic":
            # Chosen explicitly: the endpoint performs the person operations, so they are its.
            self.operations = self.operations | PERSON_OPERATIONS
        super().__init__(
            name,
            missing=required(write_key=write_key),
            base_url=base_url,
            settings=settings,
            **common,
        )

    def tool_settings(self) -> dict[str, Any]:
        """How privacy requests are carried out (never the token)."""
        return {"privacy": self.privacy_method}

    def privacy(
        self, kind: RequestKind, subject: Subject, *, request_id: str | None = None
    ) -> PrivacyAnswer:
        """The person operation as a semantic track call, or a Public API regulation (see the
        module's docstring); both name people by user id only."""
        if self.privacy_method is None:
            return PrivacyAnswer(
                "not_supported",
                "a Segment-compatible endpoint documents no deletion call through /v1/batch: set"
                ' privacy = "semantic" if it performs Customer.io\'s semantic events, or'
                f' privacy = "regulations" with {env_var(self.name, "regulations_token")}',
            )
        user_ids = list(subject.user_ids)
        if not user_ids:
            return PrivacyAnswer(
                "not_supported",
                "Segment-compatible deletions name people by userId; an anonymous visitor has none",
            )
        if self.privacy_method == "semantic":
            outcomes = self.deliver(operation_messages(kind, user_ids, request_id))
            return from_outcomes(
                outcomes, f"{kind} sent as a semantic event for {people(len(user_ids))}"
            )
        if self._regulations_token is None:
            return PrivacyAnswer(
                "not_supported",
                "Segment regulations need a Public API token: set"
                f" {env_var(self.name, 'regulations_token')}",
            )
        calls = [
            PrivacyCall(self._regulation(kind, user_ids[i : i + MAX_REGULATION_IDS]), _regulated)
            for i in range(0, len(user_ids), MAX_REGULATION_IDS)
        ]
        return carry_out(self, calls, f"{REGULATION_TYPES[kind]} for {people(len(user_ids))}")

    def _regulation(self, kind: RequestKind, user_ids: Sequence[str]) -> HttpRequest:
        """Create Workspace Regulation (https://docs.segmentapis.com/tag/Deletion-and-Suppression):
        `POST /regulations`, Bearer Public API token, `{"regulationType", "subjectType":
        "USER_ID", "subjectIds": [...]}` (up to 5000 ids)."""
        body = {
            "regulationType": REGULATION_TYPES[kind],
            "subjectType": "USER_ID",
            "subjectIds": list(user_ids),
        }
        headers = json_headers(authorization=f"Bearer {self._regulations_token or ''}")
        return HttpRequest("POST", self.regulations_url + "/regulations", headers, json_bytes(body))

    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        """Batches of messages in the Segment spec, under the message and batch size limits."""
        prepared = Prepared()
        sent_at = format_time(datetime.now(UTC)).encode()
        self.batched(
            prepared,
            self.mapped(messages, prepared, forwardable),
            self._request,
            max_count=self.batch_size,
            max_bytes=MAX_BATCH_BYTES,
            max_item_bytes=MAX_MESSAGE_BYTES,
            head=b'{"batch":',
            tail=b',"sentAt":"' + sent_at + b'"}',
        )
        return prepared

    def parse(
        self, response: HttpResponse, outgoing: Outgoing, messages: Sequence[WireMessage]
    ) -> dict[int, Outcome]:
        """A 400 names no message, so a rejected batch is halved until the bad ones stand alone."""
        if response.status == 400 and len(outgoing.indices) > 1:
            middle = len(outgoing.indices) // 2
            results: dict[int, Outcome] = {}
            for part in (outgoing.indices[:middle], outgoing.indices[middle:]):
                for sub in self.build([messages[i] for i in part]).requests:
                    mapped = Outgoing(sub.request, tuple(part[j] for j in sub.indices))
                    results.update(self._send(mapped, messages))
            return results
        return dict.fromkeys(outgoing.indices, classify_response(response))

    def _request(self, body: bytes) -> HttpRequest:
        # Strict mode makes the API answer errors with real status codes instead of 200.
        headers = json_headers(**{"x-strict-mode": "1"})
        if self._auth:
            headers["authorization"] = self._auth
        return HttpRequest("POST", self.url("/v1/batch"), headers, body)


def _regulated(response: HttpResponse) -> PrivacyAnswer:
    """The Public API answers `{"data": {"regulateId": ...}}`: the regulation to follow up."""
    data = response_json(response)
    inner = data.get("data") if isinstance(data, dict) else None
    regulate_id = inner.get("regulateId") if isinstance(inner, dict) else None
    suffix = f", regulation {regulate_id}" if regulate_id else ""
    return PrivacyAnswer("done", f"Segment Public API HTTP {response.status}{suffix}")


def forwardable(message: WireMessage) -> dict[str, Any]:
    """The stored message as the next hop should see it: no per-hop times, context present."""
    forwarded = {key: value for key, value in message.items() if key not in _HOP_FIELDS}
    if forwarded.get("timestamp") is None:
        forwarded["timestamp"] = format_time(action_time(message))
    forwarded.setdefault("context", {})
    forwarded.setdefault("integrations", {})
    return forwarded
