"""SQLite's side of the shared SQL store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trackwell.store.sql.dialect import Conn, value_rows

# SQLite caps bound parameters per statement; stay under the oldest default (999).
MAX_PARAMS = 990


class SQLiteDialect:
    """One writer at a time (BEGIN IMMEDIATE), so max(seq) + 1 is already in commit order."""

    def reserve_seqs(self, conn: Conn, count: int) -> int:
        """The next free log position."""
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM log").fetchone()[0]) + 1

    def tables(self, conn: Conn, prefix: str) -> set[str]:
        """Tables whose name starts with `prefix`."""
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?",
            (len(prefix), prefix),
        )
        return {row[0] for row in rows}

    def prepare_log(self, conn: Conn, days: set[int]) -> None:
        """Nothing: the SQLite log is one table."""

    def insert_rows(
        self,
        conn: Conn,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """Multi-row `VALUES`, ~90 rows a statement.

        The driver runs `executemany` one statement per row and lets go of the interpreter lock
        around each: with another thread busy (the SDK's caller, the gateway's event loop),
        taking it back can wait the whole switch interval (5 ms) every time, and a 1,000-row
        batch crawled. A statement per ~90 rows takes the lock back a dozen times instead.
        """
        width = len(columns)
        head = f"INSERT INTO {table} ({', '.join(name for name, _ in columns)}) VALUES "
        per = max(1, MAX_PARAMS // width)
        for start in range(0, len(rows), per):
            part = rows[start : start + per]
            params = [value for row in part for value in row]
            conn.execute(head + value_rows(width, len(part)) + tail, params)
