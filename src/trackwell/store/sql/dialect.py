"""What the shared SQL store needs from a backend: connections and a few dialect differences."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    @property
    def rowcount(self) -> int:
        """Rows the last DELETE or UPDATE changed."""
        ...

    def fetchone(self) -> Any:
        """One row or None."""
        ...

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        ...

    def __iter__(self) -> Any:
        """Rows one by one."""
        ...


class Conn(Protocol):
    """A connection inside a transaction; SQL uses `?` placeholders on every backend."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        """Run one statement per row."""
        ...


class Database(Protocol):
    """Connections to one database."""

    def read(self) -> AbstractContextManager[Conn]:
        """A connection for reading."""
        ...

    def write(self) -> AbstractContextManager[Conn]:
        """A connection inside a write transaction: committed on success, rolled back on error."""
        ...

    def close(self) -> None:
        """Close everything."""
        ...


class Dialect(Protocol):
    """The few things SQLite and PostgreSQL do differently."""

    def reserve_seqs(self, conn: Conn, count: int) -> int:
        """The first of `count` log positions, in commit order (no later commit gets a lower one)."""
        ...

    def tables(self, conn: Conn, prefix: str) -> set[str]:
        """Names of the tables starting with `prefix`."""
        ...

    def prepare_log(self, conn: Conn, days: set[int]) -> None:
        """Make the log ready for rows received on these days (partitions, where there are any)."""
        ...

    def insert_rows(
        self,
        conn: Conn,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """`INSERT INTO table (columns) ... tail` for many rows in a few statements, not one per
        row (`columns` are names with their SQL types; `tail` is an ON CONFLICT clause)."""
        ...


@functools.lru_cache(maxsize=64)
def value_rows(width: int, count: int) -> str:
    """`(?,?),(?,?)`: `count` rows of `width` placeholders, for a VALUES list."""
    row = "(" + ",".join("?" * width) + ")"
    return ",".join([row] * count)


def storable_text(value: Any) -> str | None:
    """Text any backend's column can hold: a NUL (which PostgreSQL's `text` refuses) becomes
    U+FFFD, a lone surrogate (which UTF-8 cannot encode) a `?`, and a value that is not text (a
    blocked message built in Python may carry a number as its event) its `str`. For values kept
    only to be read by people (a blocked message's columns, whose body keeps what was sent; a
    tool's error)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if text.isascii() and "\x00" not in text:
        return text
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
