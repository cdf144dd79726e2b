"""The embedded store: SQLite in WAL mode, one file, safe across threads, processes and fork."""

from __future__ import annotations

import sqlite3

from trackwell.store.base import DEFAULT_DEDUP_WINDOW_DAYS, StoreError
from trackwell.store.sql.store import SQLStore
from trackwell.store.sqlite.connection import Connections
from trackwell.store.sqlite.dialect import SQLiteDialect
from trackwell.store.sqlite.schema import migrate


class SQLiteStore(SQLStore):
    """The Store protocol over one SQLite file (or `:memory:` for tests)."""

    def __init__(
        self,
        path: str,
        *,
        dedup_window_days: int = DEFAULT_DEDUP_WINDOW_DAYS,
        synchronous: str = "NORMAL",
        url: str | None = None,
    ) -> None:
        connections = Connections(path, synchronous=synchronous)
        super().__init__(
            connections,
            SQLiteDialect(),
            url=url or f"sqlite:///{path}",
            dedup_window_days=dedup_window_days,
        )
        try:
            with connections.read() as conn:
                migrate(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot prepare the store ({exc})") from None
        self.prepare_days()
