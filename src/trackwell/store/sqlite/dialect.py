"""SQLite's side of the shared SQL store."""

from __future__ import annotations

from trackwell.store.sql.dialect import Conn


class SQLiteDialect:
    """One writer at a time (BEGIN IMMEDIATE), so max(seq) + 1 is already in commit order."""

    # The driver lets go of the interpreter lock around every row of an `executemany`.
    multi_row_insert = True

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
