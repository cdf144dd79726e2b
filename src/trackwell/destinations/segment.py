"""Segment-compatible `/v1/batch`: Segment, Customer.io Data Pipelines, RudderStack, Jitsu, trackwell.

Request shape: Segment's HTTP Tracking API reference (segment.com/docs/connections/sources/
catalog/libraries/server/http-api/, "Batch"): `POST /v1/batch` with the write key as the Basic
auth user, body `{"batch": [...], "sentAt": ...}`, each message in the Segment Spec (common fields
`type`, `userId`/`anonymousId`, `messageId`, `timestamp`, `context`, `integrations`), at most
32 KB a message and 500 KB a batch; `X-Strict-Mode: 1` for real error statuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Unpack
from urllib.parse import urlsplit

from trackwell.core.messages import WireMessage, format_time
from trackwell.core.operations import OPERATIONS
from trackwell.core.outcomes import Outcome
from trackwell.destinations.base import DestinationSettings, Outgoing, Prepared, SettingKeywords
from trackwell.destinations.common import (
    HttpDestination,
    action_time,
    basic_auth,
    classify_response,
    json_headers,
    required,
)
from trackwell.destinations.http import HttpRequest, HttpResponse

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
        base_url: str | None = None,
        settings: DestinationSettings | None = None,
        **common: Unpack[SettingKeywords],
    ) -> None:
        self._auth = basic_auth(write_key, "") if write_key else None
        # Operations travel as Customer.io Data Pipelines' semantic events, which that endpoint
        # performs (https://docs.customer.io/integrations/data-in/semantic-events/cio-journeys/).
        # Any other Segment-compatible endpoint would take `User Deleted` as an ordinary event and
        # delete nobody, so "delivered" would be untrue: there they are sent only when asked for.
        if operations is None:
            operations = urlsplit(base_url or DEFAULT_BASE_URL).hostname in PIPELINES_HOSTS
        self.operations = OPERATIONS if operations else frozenset()
        super().__init__(
            name,
            missing=required(write_key=write_key),
            base_url=base_url,
            settings=settings,
            **common,
        )

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


def forwardable(message: WireMessage) -> dict[str, Any]:
    """The stored message as the next hop should see it: no per-hop times, context present."""
    forwarded = {key: value for key, value in message.items() if key not in _HOP_FIELDS}
    if forwarded.get("timestamp") is None:
        forwarded["timestamp"] = format_time(action_time(message))
    forwarded.setdefault("context", {})
    forwarded.setdefault("integrations", {})
    return forwarded
