"""The scale-out store: PostgreSQL as the shared log and queue for many gateways and routers."""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from trackwell.core.time import DAY_MS
from trackwell.store.base import DEFAULT_DEDUP_WINDOW_DAYS, StoreError
from trackwell.store.postgres.bounds import Bounds, take_bounds
from trackwell.store.postgres.connection import PostgresConnections
from trackwell.store.postgres.dialect import PostgresDialect, partition_name
from trackwell.store.postgres.schema import migrate
from trackwell.store.sql.privacy import Erased
from trackwell.store.sql.store import SQLStore

log = logging.getLogger("trackwell.store.postgres")

DEFAULT_POOL_SIZE = 8
# The tables besides the log an erase deletes from, vacuumed after it.
PERSON_TABLES = (
    "blocked", "profiles", "profile_emails", "identities", "merges", "deliveries",
    "delivery_history",
)  # fmt: skip
# A readiness probe waits this long for the write locks: a lock held longer means writes wait.
PROBE_LOCK_TIMEOUT_MS = 500


class PostgresStore(SQLStore):
    """The Store protocol over PostgreSQL: the log partitioned by day, queues shared by leases."""

    def __init__(self, url: str, *, dedup_window_days: int = DEFAULT_DEDUP_WINDOW_DAYS) -> None:
        conninfo, schema, pool_size, bounds, libpq = split_url(url)
        connections = PostgresConnections(
            conninfo, schema=schema, max_size=pool_size, bounds=bounds, libpq=libpq
        )
        self._dialect = PostgresDialect()
        super().__init__(connections, self._dialect, url=url, dedup_window_days=dedup_window_days)
        self._pg = connections
        with connections.unbounded() as conn:
            if schema:
                # IF NOT EXISTS does not hold against another process creating it at the same
                # moment (gateways and routers of a new deployment start together): its
                # creation is as good as ours. Autocommit, so the error spoils nothing after it.
                with contextlib.suppress(
                    psycopg.errors.DuplicateSchema, psycopg.errors.UniqueViolation
                ):
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            migrate(conn)
        self.prepare_days()

    def _after_erase(self, erased: Erased) -> None:
        """VACUUM (not FULL) what the erase touched: the log partitions of the erased rows' days
        and the person tables, so the deleted tuples and their index entries are removed from
        the pages now rather than at autovacuum's leisure. What stays: the WAL segments written
        before (until PostgreSQL recycles them) and any copy in backups or replicas' WAL."""
        with self._pg.read() as conn:
            partitions = self._dialect.tables(conn, "log_")
        wanted = [partition_name(day) for day in sorted(erased.days)]
        tables = [name for name in wanted if name in partitions] + list(PERSON_TABLES)
        self._vacuum(tables)

    def _vacuum(self, tables: list[str]) -> None:
        """VACUUM these tables, index entries included; a failure is logged, not raised (the
        rows are deleted already; autovacuum removes them later)."""
        try:
            with self._pg.unbounded() as conn:
                for table in tables:
                    conn.execute(f'VACUUM (INDEX_CLEANUP ON) "{table}"')
        except (StoreError, psycopg.Error) as exc:
            log.warning(
                "the vacuum after a privacy request failed; autovacuum will remove the deleted"
                " rows later",
                extra={"fields": {"error": str(exc)}},
            )

    def _after_settle(self) -> None:
        """Vacuum the jobs table: the row versions that still carry a settled job's identifiers
        are removed now (the table is small: a row per request and destination)."""
        self._vacuum(["privacy_jobs"])

    def probe_writes(self) -> str | None:
        """Why a write would fail or wait right now, or None: every table's write lock, briefly.

        ROW EXCLUSIVE is the lock every INSERT and UPDATE takes: it waits only for a lock that
        would stop writes too (an explicit LOCK TABLE, a DDL statement), never for other writers.
        """
        try:
            with self._pg.write() as conn:
                conn.execute(f"SET LOCAL lock_timeout = {PROBE_LOCK_TIMEOUT_MS}")
                tables = [
                    str(row[0])
                    for row in conn.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    )
                ]
                if tables:
                    names = ", ".join(f'"{name}"' for name in tables)
                    conn.execute(f"LOCK TABLE {names} IN ROW EXCLUSIVE MODE")
        except StoreError as exc:
            return str(exc)
        return None

    def drop_partitions_before(self, day: int) -> list[str]:
        """Retention: drop whole days of the log older than `day` (no DELETE, no vacuum debt)."""
        dropped = []
        with self._pg.write() as conn:
            for name in sorted(
                self._dialect.tables(conn, "log_2") | self._dialect.tables(conn, "log_1")
            ):
                if name < partition_name(day):
                    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                    dropped.append(name)
        # Forgotten, so a write received on such a day makes its partition again.
        self._window.ready = {known for known in self._window.ready if known >= day}
        return dropped

    def ensure_partitions(self, now_ms: int, days_ahead: int = 2) -> None:
        """Housekeeping: create today's and the next days' partitions ahead of traffic."""
        today = now_ms // DAY_MS
        self._prepare(set(range(today, today + days_ahead + 1)), now_ms)


def split_url(url: str) -> tuple[str, str | None, int, Bounds, dict[str, Any]]:
    """The libpq URL, with trackwell's own query options (schema, pool_size, bounds) taken out."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", None)
    pool_size = int(query.pop("pool_size", DEFAULT_POOL_SIZE))
    bounds, libpq = take_bounds(query)
    scheme = "postgresql"
    conninfo = urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
    return conninfo, schema, pool_size, bounds, libpq
