"""new_unplanned_name: a misspelled lifecycle event is reported the hour it appears."""

from __future__ import annotations

from tests.monitor.conftest import clean_today
from tests.monitor.helpers import TODAY, History, ms, only


def test_a_typo_of_a_workflow_event_is_critical_with_the_name_it_meant(steady: History) -> None:
    clean_today(steady)
    steady.track(TODAY, 14, "Account Crated", 212)
    [finding] = only(steady.evaluate(ms(TODAY, 16)), "new_unplanned_name")
    assert finding.title == (
        "Unplanned event 'Account Crated': 212 since 14:00 UTC, probably 'Account Created'"
    )
    assert finding.severity == "critical"
    assert "Welcome email" in finding.explanation
    assert "aliases: ['Account Crated']" in finding.explanation
    assert "Sent by: backend (212)" in finding.explanation
    assert finding.value == 212


def test_a_near_miss_counts_from_the_first_event(steady: History) -> None:
    steady.track(TODAY, 10, "account_created", 1, source="web")
    [finding] = only(steady.evaluate(ms(TODAY, 11)), "new_unplanned_name")
    assert finding.numbers["probably"] == "Account Created"
    assert finding.numbers["sources"] == {"web": 1}


def test_unrelated_names_need_a_few_events(steady: History) -> None:
    steady.track(TODAY, 10, "Report Exported", 5)
    assert only(steady.evaluate(ms(TODAY, 11)), "new_unplanned_name") == []
    steady.track(TODAY, 10, "Report Exported", 20)
    [finding] = only(steady.evaluate(ms(TODAY, 11)), "new_unplanned_name")
    assert finding.severity == "warning"
    assert "Nothing in the plan is close" in finding.explanation


def test_a_name_that_stopped_arriving_clears(steady: History) -> None:
    steady.track(TODAY - 3, 10, "Account Crated", 50)
    assert only(steady.evaluate(ms(TODAY, 11)), "new_unplanned_name") == []
    # ... while yesterday evening still counts at 09:00 today (the last 24 hours).
    steady.track(TODAY - 1, 20, "Acount Created", 5)
    [finding] = only(steady.evaluate(ms(TODAY, 9)), "new_unplanned_name")
    assert "in the last 24 h (first seen" in finding.title


def test_aliases_and_planned_names_are_not_reported(steady: History) -> None:
    steady.track(TODAY, 10, "Signed Up", 30)  # an alias: renamed at the edge
    assert only(steady.evaluate(ms(TODAY, 11)), "new_unplanned_name") == []
