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

from trackwell.store.base import StoreError

CONNECT_TIMEOUT_SECONDS = 5


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
    """A connection pool, reopened in a forked child; errors become StoreError."""

    def __init__(self, conninfo: str, *, schema: str | None = None, max_size: int = 8) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.max_size = max_size
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._pid = os.getpid()
        self._open()

    def _open(self) -> None:
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS}
        if self.schema:
            kwargs["options"] = f"-c search_path={self.schema}"
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=self.max_size,
            kwargs=kwargs,
            open=False,
            name="trackwell",
        )
        try:
            pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except PoolTimeout:
            pool.close()
            raise StoreError(
                f"{_safe(self.conninfo)}: PostgreSQL is unreachable (no connection in {CONNECT_TIMEOUT_SECONDS}s)"
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
                raise StoreError(f"{_safe(self.conninfo)}: the store is closed")
            return self._pool

    @contextmanager
    def read(self) -> Iterator[Adapter]:
        """A connection in autocommit mode."""
        try:
            with self._current().connection(timeout=CONNECT_TIMEOUT_SECONDS) as conn:
                yield Adapter(conn)
        except PoolTimeout:
            raise StoreError(f"{_safe(self.conninfo)}: no free PostgreSQL connection") from None
        except psycopg.OperationalError as exc:
            raise StoreError(f"{_safe(self.conninfo)}: {_first_line(exc)}") from None

    @contextmanager
    def write(self) -> Iterator[Adapter]:
        """A connection inside a transaction: committed on success, rolled back on any error."""
        try:
            with (
                self._current().connection(timeout=CONNECT_TIMEOUT_SECONDS) as conn,
                conn.transaction(),
            ):
                yield Adapter(conn)
        except PoolTimeout:
            raise StoreError(f"{_safe(self.conninfo)}: no free PostgreSQL connection") from None
        except psycopg.Error as exc:
            raise StoreError(f"{_safe(self.conninfo)}: {_first_line(exc)}") from None

    def close(self) -> None:
        """Close the pool."""
        with self._lock:
            if self._pool is not None and os.getpid() == self._pid:
                self._pool.close()
            self._pool = None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _safe(conninfo: str) -> str:
    """The connection string without its password, for messages."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "postgresql"
    host = params.get("host", "localhost")
    port = params.get("port", "5432")
    return f"postgresql://{params.get('user', '')}@{host}:{port}/{params.get('dbname', '')}"
