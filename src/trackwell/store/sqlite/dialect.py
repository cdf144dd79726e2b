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
        """The next free log position: past the last row, and past every position retention
        removed (`log_floor`), so an emptied log never hands out a position a cursor has passed."""
        row = conn.execute(
            "SELECT max(coalesce((SELECT max(seq) FROM log), 0),"
            " coalesce((SELECT seq FROM log_floor WHERE id = 1), 0))"
        ).fetchone()
        return int(row[0]) + 1

    def tables(self, conn: Conn, prefix: str) -> set[str]:
        """Tables whose name starts with `prefix`."""
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?",
            (len(prefix), prefix),
        )
        return {row[0] for row in rows}

    def prepare_log(self, conn: Conn, days: set[int]) -> None:
        """Nothing: the SQLite log is one table."""

    def log_partitions(self, conn: Conn) -> dict[int, str] | None:
        """None: the SQLite log is one table, cut by ranges of its key."""
        return None

    def drop_log_partition(self, conn: Conn, name: str) -> bool:
        """False: the SQLite log has no partitions to drop (`log_partitions` is None, so
        retention cuts ranges of the key instead and never asks)."""
        return False

    def keep_seqs_above(self, conn: Conn, seq: int) -> None:
        """Remember the highest removed position (`reserve_seqs` reads it)."""
        conn.execute(
            "INSERT INTO log_floor (id, seq) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET seq = max(seq, excluded.seq)",
            (seq,),
        )

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
