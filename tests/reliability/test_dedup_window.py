"""The dedup window: the same messageId within 7 days is stored once; after that it is new.

The store's clock is moved (not the system's): `write_batch` reads it once per batch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwell.pipeline.accept import accept
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import open_store
from trackwell.store.base import DEFAULT_DEDUP_WINDOW_DAYS
from trackwell.store.sql import store as sql_store

from .helpers import track

DAY_MS = 86_400_000


@pytest.mark.parametrize(("days_later", "duplicate"), [(0, True), (6, True), (8, False)])
def test_a_retry_within_the_window_is_a_duplicate_and_after_it_is_not(
    tmp_path: Path,
    example_plan: Plan,
    monkeypatch: pytest.MonkeyPatch,
    days_later: int,
    duplicate: bool,
) -> None:
    assert DEFAULT_DEDUP_WINDOW_DAYS == 7
    start = 1_780_000_000_000
    now = [start]
    monkeypatch.setattr(sql_store, "_now_ms", lambda: now[0])
    store = open_store(f"sqlite:///{tmp_path / 'window.db'}")
    compiled = compile_plan(example_plan)
    try:
        first = accept(store, compiled, [track("w", "p", 0)])
        assert not first[0].duplicate
        now[0] = start + days_later * DAY_MS
        again = accept(store, compiled, [track("w", "p", 0)])
        assert again[0].duplicate is duplicate
        assert store.count() == (1 if duplicate else 2)
    finally:
        store.close()
