"""PostgreSQL's side of the shared SQL store: commit-ordered positions and daily partitions."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from trackwell.core.time import DAY_MS, day_start
from trackwell.store.postgres.connection import Adapter
from trackwell.store.sql.dialect import Conn

# A day partition's name; other tables start with `log_` too (`log_counter`).
PARTITION = re.compile(r"log_([0-9]{8})")
# An arbitrary constant: the key of the advisory lock a retention pass takes to drop a partition.
RETENTION_LOCK = 7_231_004_912
# Detaching a partition locks the whole log: waiting longer than this for writers to finish
# would queue every new writer behind it, so the pass gives up and tries again next time.
DETACH_LOCK_TIMEOUT_MS = 1000


def partition_name(day: int) -> str:
    """The log partition of one UTC day."""
    return "log_" + day_start(day).strftime("%Y%m%d")


def partition_day(name: str) -> int | None:
    """The UTC day of a partition's name, or None for another table."""
    found = PARTITION.fullmatch(name)
    if found is None:
        return None
    day = datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC)
    return int(day.timestamp()) // 86_400


class PostgresDialect:
    """Several writers at once: positions come from a counter row held until commit."""

    def reserve_seqs(self, conn: Conn, count: int) -> int:
        # The row lock on the counter lasts until commit, so a transaction that reserves later
        # also commits later: no cursor can pass a position whose row is not visible yet.
        row = conn.execute(
            "UPDATE log_counter SET next = next + ? WHERE id = 1 RETURNING next - ?", (count, count)
        )
        return int(row.fetchone()[0])

    def tables(self, conn: Conn, prefix: str) -> set[str]:
        """Tables of the current schema whose name starts with `prefix`."""
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND left(tablename, ?) = ?",
            (len(prefix), prefix),
        )
        return {row[0] for row in rows}

    def prepare_log(self, conn: Conn, days: set[int]) -> None:
        """Create these days' partitions (another process may race us: fine)."""
        for day in sorted(days):
            self.create_partition(conn, day)

    def create_partition(self, conn: Conn, day: int) -> None:
        """One day's partition of the log, if it does not exist yet."""
        assert isinstance(conn, Adapter)
        # Another process may create it between our check and our create: that is fine.
        with (
            contextlib.suppress(psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation),
            conn.savepoint(),
        ):
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{partition_name(day)}" PARTITION OF log'
                f" FOR VALUES FROM ({day * DAY_MS}) TO ({(day + 1) * DAY_MS})"
            )

    def log_partitions(self, conn: Conn) -> dict[int, str]:
        """The log's day partitions (attached ones: a partition detached by a pass that failed
        before its drop is no longer part of the log)."""
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass('log')"
        )
        found = {}
        for (name,) in rows:
            day = partition_day(name)
            if day is not None:
                found[day] = name
        return found

    def drop_log_partition(self, conn: Conn, name: str) -> bool:
        """DETACH, then DROP: the log's lock is held only for the moments between the detach and
        the commit, and a pass that finds the log busy gives up within a second (and tries
        again at its next run)."""
        conn.execute(f"SET LOCAL lock_timeout = {DETACH_LOCK_TIMEOUT_MS}")
        # One process at a time; a second one waits, then finds the partition gone.
        conn.execute("SELECT pg_advisory_xact_lock(?)", (RETENTION_LOCK,))
        attached = conn.execute(
            "SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass('log') AND c.relname = ?",
            (name,),
        ).fetchone()
        if attached is None:
            return False
        conn.execute(f'ALTER TABLE log DETACH PARTITION "{name}"')
        conn.execute(f'DROP TABLE "{name}"')
        return True

    def keep_seqs_above(self, conn: Conn, seq: int) -> None:
        """Nothing: positions come from `log_counter`, which never goes back."""

    def insert_rows(
        self,
        conn: Conn,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """One statement for the whole batch: each column goes as one typed array, `unnest`ed.

        psycopg's `executemany` costs tens of microseconds of Python per row; arrays sent in
        binary (`%b`, psycopg's C dumpers) cost about a tenth of that, and as text every element
        would be quoted by a regular expression.
        """
        assert isinstance(conn, Adapter)
        if not rows:
            return
        names = ", ".join(name for name, _ in columns)
        arrays = ", ".join(f"%b::{kind}[]" for _, kind in columns)
        # Written in psycopg's own placeholders, so past the adapter's `?` translation.
        query = f"INSERT INTO {_literal(table)} ({names}) SELECT * FROM unnest({arrays})"
        conn.raw.execute(
            query + _literal(tail), [list(values) for values in zip(*rows, strict=True)]
        )


def _literal(sql: str) -> str:
    """SQL text with its percent signs escaped for psycopg."""
    return sql.replace("%", "%%")
