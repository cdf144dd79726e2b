"""The embedded store: SQLite in WAL mode, one file, safe across threads, processes and fork."""

from __future__ import annotations

import sqlite3

from trackwell.store.base import DEFAULT_DEDUP_WINDOW_DAYS, StoreError
from trackwell.store.sql.store import SQLStore
from trackwell.store.sqlite.connection import DEFAULT_SYNCHRONOUS, Connections, damaged, is_damage
from trackwell.store.sqlite.dialect import SQLiteDialect
from trackwell.store.sqlite.schema import migrate


class SQLiteStore(SQLStore):
    """The Store protocol over one SQLite file (or `:memory:` for tests)."""

    def __init__(
        self,
        path: str,
        *,
        dedup_window_days: int = DEFAULT_DEDUP_WINDOW_DAYS,
        synchronous: str = DEFAULT_SYNCHRONOUS,
        url: str | None = None,
        check: bool = False,
    ) -> None:
        connections = Connections(path, synchronous=synchronous)
        self.connections = connections  # the per-thread connections, for tools and tests
        super().__init__(
            connections,
            SQLiteDialect(),
            url=url or f"sqlite:///{path}",
            dedup_window_days=dedup_window_days,
        )
        try:
            with connections.read() as conn:
                if check and not connections.memory:
                    check_integrity(conn, path)
                migrate(conn)
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise StoreError(damaged(path, str(exc))) from None
            raise StoreError(f"{path}: cannot prepare the store ({exc})") from None
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot prepare the store ({exc})") from None


# What `PRAGMA quick_check` reports for a sound file.
_SOUND = [("ok",)]
# The first problems quick_check finds are enough to name the damage.
_PROBLEMS_SHOWN = 3


def check_integrity(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a damaged database file: `PRAGMA quick_check` reads every page (about 6 ms per MB
    when cached), so a gateway never acknowledges writes into a file that cannot keep them."""
    rows = conn.execute(f"PRAGMA quick_check({_PROBLEMS_SHOWN})").fetchall()
    if rows != _SOUND:
        raise StoreError(damaged(path, "; ".join(str(row[0]) for row in rows)))
