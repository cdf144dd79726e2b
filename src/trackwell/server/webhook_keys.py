"""The signing keys of the outcome webhooks, read from the environment, and their verification.

Customer.io's reporting webhooks are signed with the workspace's webhook signing key
(`TRACKWELL_CUSTOMERIO_WEBHOOK_KEY`); another tool's outcome webhook with a key per source
(`TRACKWELL_OUTCOMES_<SOURCE>_KEY`, the source upper-cased, `-` as `_`). Each variable may hold
several keys separated by commas, so a key can be rotated without refusing a report: add the new
one, change it in the tool, then remove the old one. Keys live in the environment only (never in
trackwell.toml, which is committed).

Customer.io's scheme (https://customer.io/docs/api/webhooks/#section/Securely-Verifying-Requests):
`X-CIO-Signature` is the hex HMAC-SHA256, under the signing key, of `v0:<X-CIO-Timestamp>:<body>`.
trackwell's own (`core/signing.py`, as its webhook destination signs): `x-trackwell-signature` is
`v0=` and the same HMAC, the timestamp in `x-trackwell-timestamp`. Both compare in constant time
and refuse a timestamp more than `REPLAY_WINDOW_SECONDS` away from the clock: a captured body
cannot be replayed later (and a replay within the window is harmless: reports are stored once
per event id).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from trackwell.core.signing import sign

CUSTOMERIO_KEY_ENV: Final = "TRACKWELL_CUSTOMERIO_WEBHOOK_KEY"
OUTCOMES_KEY_ENV: Final = re.compile(r"TRACKWELL_OUTCOMES_([A-Z0-9_]{1,64})_KEY")
# The sources a generic outcome webhook may be named by (the path's `{source}`).
SOURCE_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Five minutes either way, as Customer.io's and Slack's examples allow for clock drift.
REPLAY_WINDOW_SECONDS: Final = 300

Verdict = Literal["ok", "missing", "malformed", "expired", "forged"]


def outcomes_env(source: str) -> str:
    """The variable holding a generic source's keys (`braze-eu` -> TRACKWELL_OUTCOMES_BRAZE_EU_KEY)."""
    return f"TRACKWELL_OUTCOMES_{source.upper().replace('-', '_')}_KEY"


def _keys(text: str) -> tuple[str, ...]:
    """The comma-separated keys of one variable, blanks dropped."""
    return tuple(key.strip() for key in text.split(",") if key.strip())


@dataclass(frozen=True)
class WebhookKeys:
    """The keys of every outcome webhook this gateway takes (none: the receivers are off)."""

    customerio: tuple[str, ...] = ()
    # Generic sources by the name in their variable (upper-case, `_`), so `braze-eu` and
    # `braze_eu` are the same source, as their variable is.
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WebhookKeys:
        """The keys the environment sets."""
        sources = {}
        for name, value in environ.items():
            match = OUTCOMES_KEY_ENV.fullmatch(name)
            if match is not None and _keys(value):
                sources[match.group(1)] = _keys(value)
        return cls(_keys(environ.get(CUSTOMERIO_KEY_ENV, "")), sources)

    def for_source(self, source: str) -> tuple[str, ...]:
        """A generic source's keys (empty: not configured)."""
        return self.sources.get(source.upper().replace("-", "_"), ())


def _stamp(timestamp: str | None, now: float) -> tuple[int | None, Verdict | None]:
    """The signed timestamp, and what is wrong with it (None: inside the replay window)."""
    if not timestamp:
        return None, "missing"
    text = timestamp.strip()
    if not text.isdigit() or len(text) > 12:
        return None, "malformed"
    stamp = int(text)
    if abs(now - stamp) > REPLAY_WINDOW_SECONDS:
        return stamp, "expired"
    return stamp, None


def verify_customerio(
    keys: tuple[str, ...], body: bytes, timestamp: str | None, signature: str | None, now: float
) -> Verdict:
    """Whether Customer.io's headers sign this body with one of the keys, recently."""

    def expected(key: str, stamp: int) -> str:
        return hmac.new(key.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()

    return _verify(keys, timestamp, signature.strip().lower() if signature else None, now, expected)


def verify_trackwell(
    keys: tuple[str, ...], body: bytes, timestamp: str | None, signature: str | None, now: float
) -> Verdict:
    """Whether trackwell's `v0=` headers sign this body with one of the keys, recently."""
    return _verify(
        keys,
        timestamp,
        signature.strip() if signature else None,
        now,
        lambda key, stamp: sign(key, stamp, body),
    )


def _verify(
    keys: tuple[str, ...],
    timestamp: str | None,
    given: str | None,
    now: float,
    expected: Callable[[str, int], str],
) -> Verdict:
    """The signature check both schemes share: a recent timestamp, then every key compared."""
    if not given:
        return "missing"
    stamp, problem = _stamp(timestamp, now)
    if problem is not None or stamp is None:
        return problem or "malformed"
    found = False
    for key in keys:
        # Every key is compared, whether or not an earlier one matched: the time taken says
        # nothing about which key (or how much of a signature) was right.
        found |= hmac.compare_digest(expected(key, stamp).encode(), given.encode())
    return "ok" if found else "forged"
