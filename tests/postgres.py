"""PostgreSQL for tests: the machine's server (started if it is down), a database per session.

Installing it is not a test's business: tests/setup_machine.py does that before pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ADMIN = os.environ.get("TRACKWELL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _reachable() -> bool:
    try:
        with psycopg.connect(ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _start() -> None:
    """Start the machine's stopped cluster the way its docs say. Installing PostgreSQL and its
    authentication are set up before the tests, by tests/setup_machine.py, never here."""
    versions = sorted(Path("/etc/postgresql").iterdir()) if Path("/etc/postgresql").is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main", "start"],
        capture_output=True,
        check=False,
        timeout=60,
    )


def ensure_postgres() -> str:
    """The admin URL of a running server, or skip with the reason."""
    if not _reachable():
        _start()
    if not _reachable():
        pytest.skip(
            f"PostgreSQL is not reachable at {ADMIN} and could not be started"
            " (`python tests/setup_machine.py`, as root, installs and starts it)"
        )
    return ADMIN


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test session, dropped afterwards."""
    admin = ensure_postgres()
    name = f"trackwell_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_schema_url(database: str) -> str:
    """A URL whose store lives in a new, empty schema of the session database."""
    return f"{database}?schema=t_{uuid.uuid4().hex[:12]}"
