"""Durable storage: the log, blocked messages, profiles, identities and delivery queues."""

from __future__ import annotations

from trackwell.store.base import (
    Checked,
    DeadLetter,
    Delivery,
    DeliveryError,
    DeliveryFilter,
    DeliveryResult,
    DeliveryRollup,
    DeliveryStats,
    MergeRecord,
    PeopleRollup,
    PersonRow,
    Profile,
    Store,
    StoredMessage,
    StoreError,
    StoreUncertainError,
    Timeline,
    TimelineEntry,
    VolumeRollup,
    Written,
)

SQLITE_PREFIX = "sqlite://"


def open_store(url: str, *, dedup_window_days: int | None = None) -> Store:
    """Open a store by URL: `sqlite:///relative.db`, `sqlite:////absolute.db`, `sqlite:///:memory:`,
    or `postgresql://user@host:5432/db[?schema=NAME&pool_size=N]`."""
    if url.startswith(SQLITE_PREFIX):
        from trackwell.store.sqlite import SQLiteStore

        path = url[len(SQLITE_PREFIX) :]
        if path.startswith("/"):
            path = path[1:]  # sqlite:///x.db -> x.db; sqlite:////abs/x.db -> /abs/x.db
        if not path:
            raise StoreError(f"{url}: no database path (expected sqlite:///path/to/trackwell.db)")
        if dedup_window_days is None:
            return SQLiteStore(path, url=url)
        return SQLiteStore(path, url=url, dedup_window_days=dedup_window_days)
    if url.startswith(("postgresql://", "postgres://")):
        from trackwell.store.postgres import PostgresStore

        if dedup_window_days is None:
            return PostgresStore(url)
        return PostgresStore(url, dedup_window_days=dedup_window_days)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise StoreError(f"{url}: unsupported store {scheme!r} (expected sqlite:/// or postgresql://)")


__all__ = [
    "Checked",
    "DeadLetter",
    "Delivery",
    "DeliveryError",
    "DeliveryFilter",
    "DeliveryResult",
    "DeliveryRollup",
    "DeliveryStats",
    "MergeRecord",
    "PeopleRollup",
    "PersonRow",
    "Profile",
    "Store",
    "StoreError",
    "StoreUncertainError",
    "StoredMessage",
    "Timeline",
    "TimelineEntry",
    "VolumeRollup",
    "Written",
    "open_store",
]
