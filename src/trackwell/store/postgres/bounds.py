"""Time bounds on every PostgreSQL call, read from the store URL's query (`?lock_timeout=2s`)."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from trackwell.store.base import StoreError

# Server-side bounds (PostgreSQL settings, sent at connect as `-c name=value`), in milliseconds.
DEFAULT_STATEMENT_TIMEOUT_MS = 10_000
DEFAULT_LOCK_TIMEOUT_MS = 5_000
# Longer than any transaction of ours may last (call_timeout): a transaction idle that long was
# orphaned by a client cut off mid-call, and would otherwise hold its locks (the log counter's
# row among them) until the server notices the dead socket.
DEFAULT_IDLE_IN_TRANSACTION_MS = 20_000
# Client-side bounds, in seconds: opening a connection, waiting for a free one in the pool, and
# one whole store call (a write's transaction, a read), after which its socket is cut. The last
# one is what bounds a frozen server or a partition, where no server-side timer can fire.
DEFAULT_CONNECT_TIMEOUT_S = 5
DEFAULT_POOL_TIMEOUT_S = 5.0
DEFAULT_CALL_TIMEOUT_S = 15.0
# TCP: a dead peer is noticed by keepalives when idle and by tcp_user_timeout when data is unacked.
# libpq's keywords: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS
# (the server settings above: https://www.postgresql.org/docs/current/runtime-config-client.html)
DEFAULT_TCP = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "15000",
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min)?\s*$")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "min": 60_000.0}


@dataclass(frozen=True, slots=True)
class Bounds:
    """How long any one PostgreSQL call may take, by cause."""

    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    idle_in_transaction_ms: int = DEFAULT_IDLE_IN_TRANSACTION_MS
    connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S
    pool_timeout_s: float = DEFAULT_POOL_TIMEOUT_S
    call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S

    def options(self) -> str:
        """The server settings as libpq's `options` (`-c name=value ...`)."""
        return (
            f"-c statement_timeout={self.statement_timeout_ms}"
            f" -c lock_timeout={self.lock_timeout_ms}"
            f" -c idle_in_transaction_session_timeout={self.idle_in_transaction_ms}"
        )


def duration_ms(name: str, text: str) -> int:
    """`500ms`, `2s`, `1.5s`, `1min` or a bare number of milliseconds (PostgreSQL's default unit)."""
    match = _DURATION.match(text)
    if match is None:
        raise StoreError(
            f"store URL option {name}={text!r}: expected a duration such as 500ms, 5s or 1min"
        )
    value = float(match.group(1)) * _UNIT_MS[match.group(2) or "ms"]
    if value <= 0:
        raise StoreError(f"store URL option {name}={text!r}: must be more than zero")
    return max(1, round(value))


def take_bounds(query: MutableMapping[str, str]) -> tuple[Bounds, dict[str, Any]]:
    """The bounds from a URL query (their keys removed), and libpq's TCP and connect options."""
    found: dict[str, Any] = {}
    for key, field in (
        ("statement_timeout", "statement_timeout_ms"),
        ("lock_timeout", "lock_timeout_ms"),
        ("idle_in_transaction_session_timeout", "idle_in_transaction_ms"),
    ):
        if key in query:
            found[field] = duration_ms(key, query.pop(key))
    # Seconds, as libpq's own connect_timeout: a bare number means seconds here.
    for key, field in (("pool_timeout", "pool_timeout_s"), ("call_timeout", "call_timeout_s")):
        if key in query:
            text = query.pop(key)
            found[field] = duration_ms(key, text if _has_unit(text) else f"{text}s") / 1000
    if "connect_timeout" in query:
        seconds = duration_ms("connect_timeout", f"{query.pop('connect_timeout')}s") / 1000
        found["connect_timeout_s"] = max(2, round(seconds))  # libpq treats 1 as 2
    bounds = Bounds(**found)
    libpq: dict[str, Any] = {"connect_timeout": bounds.connect_timeout_s}
    for key, default in DEFAULT_TCP.items():
        libpq[key] = query.pop(key, default)
    return bounds, libpq


def _has_unit(text: str) -> bool:
    match = _DURATION.match(text)
    return match is not None and match.group(2) is not None
