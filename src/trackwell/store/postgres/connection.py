"""PostgreSQL connections: a pool per process, and a `?`-placeholder adapter for the shared SQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from trackwell.store.base import StoreError, StoreUncertainError
from trackwell.store.postgres.bounds import Bounds
from trackwell.store.postgres.watchdog import Call, Watchdog

# The server-side bounds a migration runs without.
UNBOUNDED = ("statement_timeout", "lock_timeout")


@lru_cache(maxsize=1024)
def to_format(sql: str) -> str:
    """`?` placeholders (shared SQL) to psycopg's `%s`, escaping literal percent signs."""
    return sql.replace("%", "%%").replace("?", "%s")


class Adapter:
    """A psycopg connection that speaks the store's `?`-placeholder SQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        """Run one statement; returns its cursor."""
        return self.raw.execute(to_format(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per row (pipelined by psycopg)."""
        rows = list(rows)
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(to_format(sql), rows)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an error inside rolls back only this part."""
        with self.raw.transaction():
            yield


class PostgresConnections:
    """A connection pool, reopened in a forked child; errors (and overdue calls) become StoreError."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        max_size: int = 8,
        bounds: Bounds | None = None,
        libpq: dict[str, Any] | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.max_size = max_size
        self.bounds = bounds or Bounds()
        self.libpq = libpq or {"connect_timeout": self.bounds.connect_timeout_s}
        self._watchdog = Watchdog()
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._pid = os.getpid()
        self._open()

    def _open(self) -> None:
        options = self.bounds.options()
        if self.schema:
            options += f" -c search_path={self.schema}"
        kwargs: dict[str, Any] = {**self.libpq, "autocommit": True, "options": options}
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=self.max_size,
            kwargs=kwargs,
            open=False,
            name="trackwell",
        )
        try:
            pool.open(wait=True, timeout=self.bounds.connect_timeout_s)
        except PoolTimeout:
            pool.close()
            raise StoreError(
                f"{safe_url(self.conninfo)}: PostgreSQL is unreachable"
                f" (no connection in {self.bounds.connect_timeout_s}s)"
            ) from None
        self._pool = pool

    def _current(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if os.getpid() != self._pid:
                # A forked child must not touch its parent's sockets: open a pool of its own.
                self._pid = os.getpid()
                self._pool = None
                self._open()
            if self._pool is None:
                raise StoreError(f"{safe_url(self.conninfo)}: the store is closed")
            return self._pool

    @contextmanager
    def read(self) -> Iterator[Adapter]:
        """A connection in autocommit mode, for at most `call_timeout` seconds."""
        call: Call | None = None
        try:
            with self._current().connection(timeout=self.bounds.pool_timeout_s) as conn:
                call = self._watchdog.arm(conn, self.bounds.call_timeout_s)
                try:
                    yield Adapter(conn)
                finally:
                    self._watchdog.disarm(call)
        except PoolTimeout:
            raise self._no_connection() from None
        except psycopg.OperationalError as exc:
            raise self._failed(exc, call) from None

    @contextmanager
    def unbounded(self) -> Iterator[Adapter]:
        """A connection in autocommit mode with no time bound, for migrations at start only.

        A migration may rewrite a large table or wait for another process's migration: cutting
        it short would leave the process unable to start, and it serves no request.
        """
        try:
            with self._current().connection(timeout=self.bounds.pool_timeout_s) as conn:
                for name in UNBOUNDED:
                    conn.execute(f"SET {name} = 0")
                try:
                    yield Adapter(conn)
                finally:
                    for name in UNBOUNDED:
                        conn.execute(f"RESET {name}")  # back to this connection's bound
        except PoolTimeout:
            raise self._no_connection() from None
        except psycopg.OperationalError as exc:
            raise StoreError(f"{safe_url(self.conninfo)}: {first_line(exc)}") from None

    @contextmanager
    def write(self) -> Iterator[Adapter]:
        """A transaction: committed on success, rolled back on any error or overdue call."""
        call: Call | None = None
        try:
            with self._current().connection(timeout=self.bounds.pool_timeout_s) as conn:
                call = self._watchdog.arm(conn, self.bounds.call_timeout_s)
                try:
                    with conn.transaction():
                        yield Adapter(conn)
                        call.committing = True
                finally:
                    self._watchdog.disarm(call)
        except PoolTimeout:
            raise self._no_connection() from None
        except psycopg.Error as exc:
            raise self._failed(exc, call) from None

    def _no_connection(self) -> StoreError:
        return StoreError(
            f"{safe_url(self.conninfo)}: no PostgreSQL connection within"
            f" {self.bounds.pool_timeout_s:g}s (pool_timeout): the server is unreachable or"
            " every connection is busy"
        )

    def _failed(self, exc: psycopg.Error, call: Call | None) -> StoreError:
        if call is None or not call.fired:
            return StoreError(f"{safe_url(self.conninfo)}: {first_line(exc)}")
        where = f"{safe_url(self.conninfo)}: PostgreSQL did not answer within"
        bound = f"{self.bounds.call_timeout_s:g}s (call_timeout)"
        if call.committing:
            # The COMMIT was sent and no answer came: it may have been applied or not.
            return StoreUncertainError(f"{where} {bound} while committing: the outcome is unknown")
        return StoreError(f"{where} {bound}; the transaction was not committed")

    def close(self) -> None:
        """Close the pool."""
        with self._lock:
            if self._pool is not None and os.getpid() == self._pid:
                self._pool.close()
            self._pool = None


def first_line(exc: Exception) -> str:
    """The first line of an error's message (psycopg's carry DETAIL and HINT lines after it)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def safe_url(conninfo: str) -> str:
    """The connection string without its password, for messages."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "postgresql"
    host = params.get("host", "localhost")
    port = params.get("port", "5432")
    return f"postgresql://{params.get('user', '')}@{host}:{port}/{params.get('dbname', '')}"
