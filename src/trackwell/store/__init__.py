"""Durable storage: the log, blocked messages, profiles, identities and delivery queues."""

from __future__ import annotations

from urllib.parse import parse_qsl

from trackwell.core.delivery import DeliveryFilter
from trackwell.store.base import (
    AuditLog,
    Browsing,
    Checked,
    DeadLetter,
    Delivery,
    DeliveryError,
    DeliveryResult,
    DeliveryRollup,
    DeliveryStats,
    EventOutcomes,
    LogWriter,
    MergeRecord,
    OutcomeReport,
    PeopleRollup,
    PersonRow,
    Privacy,
    Profile,
    Queues,
    RecordedReports,
    Replays,
    ReportCount,
    ReportResult,
    Reports,
    Retention,
    RetentionReport,
    Rollups,
    Store,
    StoreCheck,
    StoredMessage,
    StoreError,
    StoreUncertainError,
    Timeline,
    TimelineEntry,
    Timelines,
    VolumeRollup,
    Written,
    check_retention,
)

SQLITE_PREFIX = "sqlite://"
# The driver of the PostgreSQL store, installed by `trackwell[postgres]`.
POSTGRES_MODULES = ("psycopg", "psycopg_pool")


def open_store(url: str, *, dedup_window_days: int | None = None, check: bool = False) -> Store:
    """Open a store by URL: `sqlite:///relative.db`, `sqlite:////absolute.db`, `sqlite:///:memory:`
    (`?synchronous=normal` gives up the fsync at each commit), or
    `postgresql://user@host:5432/db[?schema=NAME&pool_size=N]`. With `check`, a damaged SQLite
    file is refused (StoreError naming the file and what to do) instead of opened."""
    if url.startswith(SQLITE_PREFIX):
        from trackwell.store.sqlite import SQLiteStore

        path, synchronous = _sqlite_options(url)
        if dedup_window_days is None:
            return SQLiteStore(path, url=url, synchronous=synchronous, check=check)
        return SQLiteStore(
            path,
            url=url,
            synchronous=synchronous,
            check=check,
            dedup_window_days=dedup_window_days,
        )
    if url.startswith(("postgresql://", "postgres://")):
        # Imported only here: the driver is an extra, and SQLite users never load it.
        try:
            from trackwell.store.postgres import PostgresStore
        except ModuleNotFoundError as exc:
            raise _without_driver(exc) from None

        if dedup_window_days is None:
            return PostgresStore(url)
        return PostgresStore(url, dedup_window_days=dedup_window_days)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise StoreError(f"{url}: unsupported store {scheme!r} (expected sqlite:/// or postgresql://)")


def check_store(url: str, *, full: bool = False) -> StoreCheck:
    """Check an existing store without changing it: a SQLite file read-only (`PRAGMA quick_check`,
    or `integrity_check` with `full`), a PostgreSQL store's connection, migrations and day
    tables. StoreError when there is nothing to check (no such file, unsupported URL)."""
    if url.startswith(SQLITE_PREFIX):
        from trackwell.store.sqlite.integrity import check_file

        path = sqlite_file(url)
        if path is None:
            raise StoreError(f"{url}: an in-memory store has nothing to check")
        return check_file(path, full=full)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from trackwell.store.postgres.health import check_database
        except ModuleNotFoundError as exc:
            raise _without_driver(exc) from None

        return check_database(url)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise StoreError(f"{url}: unsupported store {scheme!r} (expected sqlite:/// or postgresql://)")


def _without_driver(exc: ModuleNotFoundError) -> Exception:
    """What to tell a user whose install lacks the PostgreSQL driver (or `exc` itself, when
    something else is missing)."""
    if (exc.name or "").split(".")[0] not in POSTGRES_MODULES:
        return exc
    return StoreError(
        f"a postgresql:// store needs the postgres extra ({exc.name} is not installed):"
        " pip install 'trackwell[postgres]'"
    )


def sqlite_file(url: str) -> str | None:
    """The database file a `sqlite://` URL names (without its options); None for memory or
    another store."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    path = url[len(SQLITE_PREFIX) :].partition("?")[0]
    path = path[1:] if path.startswith("/") else path
    return None if not path or path == ":memory:" else path


def _sqlite_options(url: str) -> tuple[str, str]:
    """The file path of a `sqlite://` URL and its `synchronous` mode (FULL unless the URL says
    `?synchronous=normal`: an explicit choice to trade durability of the newest commits for
    speed)."""
    path, _, query = url[len(SQLITE_PREFIX) :].partition("?")
    if path.startswith("/"):
        path = path[1:]  # sqlite:///x.db -> x.db; sqlite:////abs/x.db -> /abs/x.db
    if not path:
        raise StoreError(f"{url}: no database path (expected sqlite:///path/to/trackwell.db)")
    options = dict(parse_qsl(query, keep_blank_values=True))
    synchronous = options.pop("synchronous", "full").upper()
    if options:
        raise StoreError(
            f"{url}: unknown option {', '.join(sorted(options))} (sqlite:/// takes only"
            " synchronous=full or synchronous=normal)"
        )
    if synchronous not in ("FULL", "NORMAL"):
        raise StoreError(
            f"{url}: synchronous must be full (the default: every commit is on disk before it is"
            f" acknowledged) or normal (faster; the newest commits can be lost with the disk),"
            f" not {synchronous.lower()!r}"
        )
    return path, synchronous


__all__ = [
    "AuditLog",
    "Browsing",
    "Checked",
    "DeadLetter",
    "Delivery",
    "DeliveryError",
    "DeliveryFilter",
    "DeliveryResult",
    "DeliveryRollup",
    "DeliveryStats",
    "EventOutcomes",
    "LogWriter",
    "MergeRecord",
    "OutcomeReport",
    "PeopleRollup",
    "PersonRow",
    "Privacy",
    "Profile",
    "Queues",
    "RecordedReports",
    "Replays",
    "ReportCount",
    "ReportResult",
    "Reports",
    "Retention",
    "RetentionReport",
    "Rollups",
    "Store",
    "StoreCheck",
    "StoreError",
    "StoreUncertainError",
    "StoredMessage",
    "Timeline",
    "TimelineEntry",
    "Timelines",
    "VolumeRollup",
    "Written",
    "check_retention",
    "check_store",
    "open_store",
    "sqlite_file",
]
