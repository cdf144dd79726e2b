"""The store contract on SQLite: a file in a temporary folder, and an in-memory database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.contract import StoreContract
from tests.store.privacy_contract import PrivacyContract
from tests.store.reports_contract import ReportsContract
from trackwell.store import Store, open_store

# PostgreSQL joins this list (and `_url`) when its backend lands; the contract stays the same.
BACKENDS = ["sqlite-file", "sqlite-memory"]


def _url(backend: str, folder: Path) -> str:
    if backend == "sqlite-file":
        return f"sqlite:///{folder / 'store' / 'trackwell.db'}"
    if backend == "sqlite-memory":
        return "sqlite:///:memory:"
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each backend."""
    opened = open_store(_url(request.param, tmp_path))
    try:
        yield opened
    finally:
        opened.close()


class TestStoreContract(StoreContract):
    """Every contract test, on every backend above."""


class TestStorePrivacyContract(PrivacyContract):
    """Every privacy contract test, on every backend above."""


class TestStoreReportsContract(ReportsContract):
    """Every outcome-reports contract test, on every backend above."""
