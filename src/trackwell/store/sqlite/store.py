"""The embedded store: SQLite in WAL mode, one file, safe across threads, processes and fork."""

from __future__ import annotations

import sqlite3

from trackwell.store.base import DEFAULT_DEDUP_WINDOW_DAYS, StoreError
from trackwell.store.sql.store import SQLStore
from trackwell.store.sqlite.connection import (
    DEFAULT_SYNCHRONOUS,
    MEMORY,
    Connections,
    damaged,
    is_damage,
)
from trackwell.store.sqlite.dialect import SQLiteDialect
from trackwell.store.sqlite.integrity import check_integrity, needs_check
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
        # Decided before the first connection opens the file (that creates its WAL).
        check = check and path != MEMORY and needs_check(path)
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
                if check:
                    check_integrity(conn, path)
                migrate(conn)
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise StoreError(damaged(path, str(exc))) from None
            raise StoreError(f"{path}: cannot prepare the store ({exc})") from None
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot prepare the store ({exc})") from None
