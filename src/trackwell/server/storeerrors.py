"""Why a store write failed, in words a client may see (never the store's path or host)."""

from __future__ import annotations

from trackwell.store import StoreError

# Why a write failed, in words a client may see: the store's own message names paths and hosts.
_REASONS = (
    ("lock timeout", "a lock held by another session did not clear in time (lock_timeout)"),
    ("statement timeout", "a statement did not finish in time (statement_timeout)"),
    ("did not answer within", "the store did not answer in time (call_timeout)"),
    ("no PostgreSQL connection within", "no store connection in time (pool_timeout)"),
    ("unreachable", "the store is unreachable"),
    ("full", "the disk or database is full"),
    ("locked", "the database is locked by another process"),
    ("read-only", "the database is read-only"),
    ("I/O error", "a disk input-output error: the disk may be read-only or failing"),
    ("malformed", "the database file is damaged"),
    ("not a database", "the database file is damaged"),
)


def store_reason(exc: StoreError) -> str:
    """The cause of a failed write without the store's location (paths, hosts, users)."""
    text = str(exc)
    return next((reason for word, reason in _REASONS if word in text), "the store is unavailable")
