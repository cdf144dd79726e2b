"""Days for retention tests: messages received on chosen UTC days, and the catalogue's view of
PostgreSQL's day partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from trackwell.core.time import DAY_MS, day_start
from trackwell.store.postgres.store import split_url

NOW = datetime.now(UTC)
NOW_MS = int(NOW.timestamp() * 1000)
TODAY = NOW_MS // DAY_MS


def received(days_ago: int) -> datetime:
    """Noon UTC of a day before today (now, for today: noon may not have come yet)."""
    if days_ago == 0:
        return NOW
    return day_start(TODAY - days_ago) + timedelta(hours=12)


def catalogue_partitions(url: str) -> set[str]:
    """The log's partitions as PostgreSQL's catalogue lists them (not through the store)."""
    conninfo, schema_name, *_ = split_url(url)
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname ~ '^log_[0-9]{8}$'",
            (schema_name,),
        ).fetchall()
    return {row[0] for row in rows}
