"""The SQLite backend of the store."""

from trackwell.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
