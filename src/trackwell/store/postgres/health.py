"""The on-demand check of a PostgreSQL store: reachable, migrated, and ready for today's and
tomorrow's traffic. It only reads: nothing is created or migrated."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from trackwell.core.time import DAY_MS, now_ms
from trackwell.store.base import StoreCheck
from trackwell.store.postgres.connection import first_line, safe_url
from trackwell.store.postgres.dialect import partition_name
from trackwell.store.postgres.schema import MIGRATIONS
from trackwell.store.postgres.store import split_url
from trackwell.store.sql.writes import dedup_table

CHECKS = ("connection", "migrations", "day_tables")


def check_database(url: str, *, at_ms: int | None = None) -> StoreCheck:
    """Connect, compare the applied migrations with this version's, and look for the day tables
    the store makes ahead of traffic (the log's partition and the dedup table, today and
    tomorrow, UTC). Each missing thing is one problem."""
    conninfo, schema, _, bounds, libpq = split_url(url)
    target = safe_url(conninfo) + (f" (schema {schema})" if schema else "")
    options = bounds.options() + (f" -c search_path={schema}" if schema else "")
    started = time.perf_counter()
    checks: tuple[str, ...] = CHECKS
    try:
        with psycopg.connect(conninfo, autocommit=True, options=options, **libpq) as conn:
            problems = _problems(conn, now_ms() if at_ms is None else at_ms)
    except psycopg.Error as exc:
        checks = CHECKS[:1]  # the others need the connection
        problems = [f"cannot connect or read: {first_line(exc)}"]
    return StoreCheck(
        kind="postgresql",
        target=target,
        checks=checks,
        seconds=time.perf_counter() - started,
        problems=tuple(problems),
    )


def _problems(conn: psycopg.Connection[Any], at_ms: int) -> list[str]:
    """What is missing from the store this connection reads."""
    tables = {
        str(row[0])
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    }
    if "migrations" not in tables:
        return ["no trackwell store here (no migrations table): start a gateway once to create it"]
    applied = {str(row[0]) for row in conn.execute("SELECT name FROM migrations").fetchall()}
    problems = [
        f"migration {name} is not applied: start a gateway of this version once to apply it"
        for name, _ in MIGRATIONS
        if name not in applied
    ]
    today = at_ms // DAY_MS
    for day in (today, today + 1):
        for table in (partition_name(day), dedup_table(day)):
            if table not in tables:
                problems.append(
                    f"table {table} is missing: a running gateway or router makes it ahead of"
                    " the day; is one running?"
                )
    return problems
