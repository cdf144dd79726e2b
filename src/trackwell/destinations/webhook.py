"""Webhook: Segment-spec batches POSTed as JSON to any URL, signed with HMAC-SHA256.

Privacy requests reach the same URL, signed the same way, as one JSON object (documented in
README.md, "Privacy requests at the tools"): `{"type": "privacy", "action": "erase" | "suppress"
| "unsuppress", "requestId"?, "userIds", "anonymousIds", "emails", "sentAt"}`. A receiver tells
them from deliveries by `type` (a delivery's body has `batch`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Unpack

from trackwell.core.messages import WireMessage, format_time
from trackwell.core.operations import OPERATIONS
from trackwell.core.privacy import RequestKind, Subject

# Receivers verify with `verify_signature`, importable from here as documented.
from trackwell.core.signing import sign as sign
from trackwell.core.signing import signature_headers
from trackwell.core.signing import verify_signature as verify_signature
from trackwell.destinations.base import (
    DestinationSettings,
    Prepared,
    PrivacyAnswer,
    SettingKeywords,
)
from trackwell.destinations.common import (
    HttpDestination,
    json_bytes,
    json_headers,
    required,
)
from trackwell.destinations.http import HttpRequest
from trackwell.destinations.privacy import PrivacyCall, carry_out, people

DEFAULT_MAX_BODY_BYTES = 1_000_000


class Webhook(HttpDestination):
    """POSTs `{"batch": [...], "sentAt": ...}` to a URL; the receiver verifies the signature."""

    kind = "webhook"
    # The receiver gets every message as stored, operations included, and decides what to do.
    operations = OPERATIONS

    def __init__(
        self,
        name: str | None = None,
        *,
        url: str,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
        settings: DestinationSettings | None = None,
        **common: Unpack[SettingKeywords],
    ) -> None:
        self._secret = secret
        self._headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self.target_url = url  # exactly as given: a trailing slash can matter to the receiver
        super().__init__(
            name,
            missing=required(secret=secret),
            base_url=url,
            settings=settings,
            **common,
        )

    def tool_settings(self) -> dict[str, Any]:
        """Whether requests are signed, and the body limit (never the secret or extra headers)."""
        return {"signed": self._secret is not None, "max_body_bytes": self.max_body_bytes}

    def build(self, messages: Sequence[WireMessage]) -> Prepared:
        """Batches of the stored messages as they are, each body signed as sent."""
        prepared = Prepared()
        sent_at = format_time(datetime.now(UTC)).encode()
        self.batched(
            prepared,
            self.mapped(messages, prepared, dict),
            self._request,
            max_count=self.batch_size,
            max_bytes=self.max_body_bytes,
            head=b'{"batch":',
            tail=b',"sentAt":"' + sent_at + b'"}',
        )
        return prepared

    def privacy(
        self, kind: RequestKind, subject: Subject, *, request_id: str | None = None
    ) -> PrivacyAnswer:
        """One signed POST naming every identifier of the person; the receiver acts on it, and
        its 2xx is done (retried and failed as deliveries are)."""
        body: dict[str, Any] = {"type": "privacy", "action": kind}
        if request_id is not None:
            body["requestId"] = request_id  # the same on every retry: receivers de-duplicate
        body.update(
            userIds=list(subject.user_ids),
            anonymousIds=list(subject.anonymous_ids),
            emails=list(subject.emails),
            sentAt=format_time(datetime.now(UTC)),
        )
        call = PrivacyCall(self._request(json_bytes(body)))
        return carry_out(self, [call], f"{kind} for {people(len(subject))} sent to the webhook")

    def _request(self, body: bytes) -> HttpRequest:
        headers = json_headers(**self._headers)
        if self._secret:
            headers.update(signature_headers(self._secret, body, self._clock()))
        return HttpRequest("POST", self.target_url, headers, body)
