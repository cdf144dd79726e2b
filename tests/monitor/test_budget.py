"""volume_budget: the month's projected events per destination, and who is eating them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.monitor.helpers import TODAY, History, ms, only
from trackwell.io.config import ConfigError


def test_under_budget_is_quiet(steady: History) -> None:
    options = {"volume_budget": {"budgets": {"customerio": 1_000_000}}}
    assert only(steady.evaluate(ms(TODAY, 12), options), "volume_budget") == []


def test_on_course_to_exceed_names_the_noisiest_events(steady: History) -> None:
    # 60 events a day (identify calls do not count): about 1,800 a month.
    options = {"volume_budget": {"budgets": {"customerio": 1_000_000, "mixpanel": 1_500}}}
    [finding] = only(steady.evaluate(ms(TODAY, 12), options), "volume_budget")
    day_of_month = datetime.fromtimestamp(TODAY * 86400, UTC).day
    so_far = 60 * (day_of_month - 1)
    assert finding.key == "mixpanel"
    assert finding.numbers["so_far"] == so_far
    assert finding.severity == ("critical" if so_far >= 1_500 else "warning")
    assert "'Feature Used'" in finding.explanation  # no workflow uses it
    assert "exclude_events" in finding.explanation


def test_budgets_are_checked(steady: History) -> None:
    with pytest.raises(ConfigError, match=r"budgets\.customerio must be a positive number"):
        steady.evaluate(ms(TODAY, 12), {"volume_budget": {"budgets": {"customerio": "lots"}}})
