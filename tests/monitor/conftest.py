"""Fixtures: a four-week steady history built once and copied for each test that changes it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.monitor.helpers import TODAY, History

HOURS = (9, 12, 15)
PER_HOUR = {"Account Created": 10, "Feature Used": 10}
DESTINATIONS = ("customerio", "mixpanel")


@pytest.fixture(scope="session")
def steady_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four weeks of the same traffic every day, 3 hours a day, delivered within seconds."""
    path = tmp_path_factory.mktemp("steady") / "steady.db"
    history = History(path)
    for destination in DESTINATIONS:
        history.store.register_destination(destination)
    history.steady(range(TODAY - 28, TODAY), HOURS, PER_HOUR, DESTINATIONS)
    history.close()
    return path


@pytest.fixture
def steady(steady_db: Path, tmp_path: Path) -> Iterator[History]:
    """A private copy of the steady history."""
    path = tmp_path / "trackwell.db"
    shutil.copy(steady_db, path)
    history = History(path)
    yield history
    history.close()


def clean_today(history: History, hours: tuple[int, ...] = HOURS) -> None:
    """Today's traffic, the same as every day, delivered."""
    for hour in hours:
        history.hour(TODAY, hour, PER_HOUR, DESTINATIONS)
