"""The same store contract on PostgreSQL: a fresh schema per test in a per-session database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import fresh_schema_url, postgres_database
from tests.store.contract import StoreContract
from tests.store.privacy_contract import PrivacyContract
from tests.store.reports_contract import ReportsContract
from trackwell.store import Store, open_store

__all__ = ["postgres_database"]


@pytest.fixture
def store(postgres_database: str) -> Iterator[Store]:
    """A fresh, empty PostgreSQL store."""
    opened = open_store(fresh_schema_url(postgres_database))
    try:
        yield opened
    finally:
        opened.close()


class TestPostgresContract(StoreContract):
    """Every contract test, on PostgreSQL."""


class TestPostgresPrivacyContract(PrivacyContract):
    """Every privacy contract test, on PostgreSQL."""


class TestPostgresReportsContract(ReportsContract):
    """Every outcome-reports contract test, on PostgreSQL."""
