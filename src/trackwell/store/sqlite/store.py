"""The embedded store: SQLite in WAL mode, one file, safe across threads, processes and fork."""

from __future__ import annotations

import logging
import sqlite3

from trackwell.store.base import DEFAULT_DEDUP_WINDOW_DAYS, StoreError
from trackwell.store.sql.privacy import Erased
from trackwell.store.sql.store import SQLStore
from trackwell.store.sqlite.connection import (
    BUSY_TIMEOUT_MS,
    DEFAULT_SYNCHRONOUS,
    MEMORY,
    Connections,
    damaged,
    is_damage,
)
from trackwell.store.sqlite.dialect import SQLiteDialect
from trackwell.store.sqlite.integrity import check_integrity, needs_check
from trackwell.store.sqlite.schema import migrate

log = logging.getLogger("trackwell.store.sqlite")

# After an erase, a truncating checkpoint is tried this many times; each try waits this long for
# readers of an older snapshot to finish (its busy timeout, instead of the writes' 5 s).
CHECKPOINT_ATTEMPTS = 2
CHECKPOINT_WAIT_MS = 1000


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
        self.prepare_days()

    def _after_erase(self, erased: Erased) -> None:
        """See `_truncate_wal`."""
        self._truncate_wal()

    def _after_settle(self) -> None:
        """A settled job's identifiers were overwritten (zeroed by `secure_delete`), but the WAL
        still holds the job's earlier page images (its claims rewrote it): cut it back too."""
        self._truncate_wal()

    def _truncate_wal(self) -> None:
        """Cut the WAL back to nothing once its pages are in the database file: the frames that
        held the erased rows (written before the erase) are gone, and the file's own pages were
        zeroed by `secure_delete`. Readers holding an older snapshot keep the checkpoint from
        finishing; it is tried again once, then left to the next one (and logged)."""
        if self.connections.memory:
            return
        for _ in range(CHECKPOINT_ATTEMPTS):
            try:
                with self.connections.read() as conn:
                    conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
                    try:
                        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    finally:
                        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            except sqlite3.Error:
                busy = 1
            if not busy:
                return
        log.warning(
            "after an erase the WAL could not be checkpointed and truncated (readers held it):"
            " the erased rows stay in the -wal file until the next checkpoint overwrites it",
            extra={"fields": {"store": self.connections.path}},
        )
