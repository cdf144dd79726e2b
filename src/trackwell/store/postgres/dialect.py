"""PostgreSQL's side of the shared SQL store: commit-ordered positions and daily partitions."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg

from trackwell.core.time import DAY_MS, day_start
from trackwell.store.postgres.connection import Adapter
from trackwell.store.sql.dialect import Conn


def partition_name(day: int) -> str:
    """The log partition of one UTC day."""
    return "log_" + day_start(day).strftime("%Y%m%d")


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
