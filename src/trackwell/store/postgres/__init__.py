"""The PostgreSQL backend of the store (scale-out)."""

from trackwell.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
