"""Every store backend in turn for one test: SQLite on a file, then PostgreSQL in a fresh schema.

A module that uses `any_store` also imports `postgres_database` (the session's PostgreSQL),
and lists both in its `__all__`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import fresh_schema_url, postgres_database
from trackwell.store import Store, open_store

__all__ = ["AT", "any_store", "feature", "postgres_database"]

AT = {"timestamp": "2026-01-05T10:00:00Z"}


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An open store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = fresh_schema_url(request.getfixturevalue("postgres_database"))
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def feature(n: int, user: str = "u1", **extra: Any) -> dict[str, Any]:
    """A planned `Feature Used` track message."""
    return {
        "type": "track",
        "userId": user,
        "event": "Feature Used",
        "properties": {"feature_name": "projects", **extra},
        "messageId": f"f-{n}",
        **AT,
    }
