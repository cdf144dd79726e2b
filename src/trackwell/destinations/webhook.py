"""Webhook: Segment-spec batches POSTed as JSON to any URL, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Unpack

from trackwell.core.messages import WireMessage, format_time
from trackwell.core.operations import OPERATIONS
from trackwell.destinations.base import DestinationSettings, Prepared, SettingKeywords
from trackwell.destinations.common import (
    HttpDestination,
    json_headers,
    required,
)
from trackwell.destinations.http import HttpRequest

SIGNATURE_HEADER = "x-trackwell-signature"
TIMESTAMP_HEADER = "x-trackwell-timestamp"
SIGNATURE_VERSION = "v0"
DEFAULT_TOLERANCE_SECONDS = (
    300  # receivers refuse older signatures, so a captured body can't replay
)
DEFAULT_MAX_BODY_BYTES = 1_000_000


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v0=` and the hex HMAC-SHA256 of `v0:<timestamp>:<body>` under the shared secret."""
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """For receivers: whether the headers sign this body and the timestamp is recent."""
    if not timestamp or not signature:
        return False
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


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

    def _request(self, body: bytes) -> HttpRequest:
        headers = json_headers(**self._headers)
        if self._secret:
            stamp = int(self._clock())
            headers[TIMESTAMP_HEADER] = str(stamp)
            headers[SIGNATURE_HEADER] = sign(self._secret, stamp, body)
        return HttpRequest("POST", self.target_url, headers, body)
