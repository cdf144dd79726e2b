"""The `v0=` signature of a webhook body (the webhook destination's and the alert channel's).

A receiver recomputes HMAC-SHA256 over `v0:<timestamp>:<body>` with the shared secret and
compares it with `x-trackwell-signature`; the timestamp in the signed text means a captured
body cannot be replayed once it is older than the receiver's tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "x-trackwell-signature"
TIMESTAMP_HEADER = "x-trackwell-timestamp"
SIGNATURE_VERSION = "v0"
# Receivers refuse older signatures, so a captured body can't replay.
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v0=` and the hex HMAC-SHA256 of `v0:<timestamp>:<body>` under the shared secret."""
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signature_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    """The timestamp and signature headers for a body sent at `now` (Unix seconds)."""
    stamp = int(now)
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, stamp, body)}


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
    return hmac.compare_digest(sign(secret, stamp, body).encode(), signature.encode())
