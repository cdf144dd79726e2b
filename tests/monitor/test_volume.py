"""volume_drop and volume_spike against the same weekday's median, hour by hour."""

from __future__ import annotations

from pathlib import Path

from tests.monitor.conftest import HOURS, PER_HOUR, clean_today
from tests.monitor.helpers import TODAY, History, ms, only

CONFIGURED = {"customerio": {"type": "customerio"}, "mixpanel": {"type": "mixpanel"}}


def test_a_clean_day_produces_no_finding_at_all(steady: History) -> None:
    clean_today(steady)
    evaluation = steady.evaluate(ms(TODAY, 16, 30), destinations=CONFIGURED)
    assert evaluation.findings == []
    assert len(evaluation.evaluated) == 12


def test_an_event_that_falls_after_a_deploy_is_a_drop(steady: History) -> None:
    steady.track(TODAY, 9, "Account Created", 5, identify=True)
    steady.track(TODAY, 9, "Feature Used", 10)
    for hour in (12, 15):  # the deploy at 10:00 broke the call; other events carry on
        steady.track(TODAY, hour, "Feature Used", 10)
    findings = {f.key: f for f in only(steady.evaluate(ms(TODAY, 16)), "volume_drop")}
    assert set(findings) == {"track:Account Created", "identify"}
    finding = findings["track:Account Created"]
    assert finding.numbers == {"observed": 5, "expected": 30.0, "hours": 16}
    assert finding.severity == "warning"  # a sixth of usual is a drop, not yet silence
    assert finding.value == 1 - 5 / 30
    assert "Welcome email" in finding.explanation
    assert "the last 4" in finding.explanation


def test_zero_of_a_workflow_event_is_critical(steady: History) -> None:
    for hour in HOURS:
        steady.track(TODAY, hour, "Feature Used", 10)
    findings = only(steady.evaluate(ms(TODAY, 16)), "volume_drop")
    by_key = {f.key: f for f in findings}
    assert by_key["track:Account Created"].severity == "critical"
    assert by_key["identify"].severity == "critical"  # identify calls went with it
    assert "dropped to 0" in by_key["track:Account Created"].title


def test_a_drop_caused_by_blocking_says_why(steady: History) -> None:
    for hour in HOURS:
        steady.track(TODAY, hour, "Feature Used", 10)
        # A deploy renamed the required property: every event is now blocked.
        steady.track(
            TODAY, hour, "Account Created", 10, properties={"plan": "enterprise"}, identify=True
        )
    [finding] = only(steady.evaluate(ms(TODAY, 16)), "volume_drop")
    assert "30 of the 30 that arrived today were blocked" in finding.explanation
    assert "invalid_property" in finding.explanation


def test_a_source_that_went_silent_is_named(steady: History) -> None:
    for hour in HOURS:
        steady.track(TODAY, hour, "Feature Used", 10)
    [finding] = [
        f for f in only(steady.evaluate(ms(TODAY, 16)), "volume_drop") if f.key.startswith("track")
    ]
    assert "Source 'backend' sent none" in finding.explanation


def test_early_in_the_day_only_the_hours_so_far_are_compared(steady: History) -> None:
    clean_today(steady, hours=(9,))
    # At 10:30 only hour 9 is complete, and it matched.
    assert steady.evaluate(ms(TODAY, 10, 30)).findings == []
    # Before 09:00 nothing is expected yet, so silence is not a drop.
    assert only(steady.evaluate(ms(TODAY, 8)), "volume_drop") == []


def test_a_tenfold_spike_of_click_noise(steady: History) -> None:
    for hour in HOURS:
        for event, count in PER_HOUR.items():
            steady.track(TODAY, hour, event, count, identify=event == "Account Created")
        steady.track(TODAY, hour, "Feature Used", 100)
    [finding] = only(steady.evaluate(ms(TODAY, 16)), "volume_spike")
    assert finding.key == "track:Feature Used"
    assert finding.numbers["observed"] == 330
    assert round(finding.value) == 11
    assert "loop or a retry storm" in finding.explanation


def test_a_new_history_has_no_baseline(tmp_path: Path) -> None:
    history = History(tmp_path / "new.db")
    try:
        history.steady([TODAY - 7], HOURS, PER_HOUR)  # one same weekday is not a median
        history.track(TODAY, 9, "Feature Used", 1)
        assert history.evaluate(ms(TODAY, 16)).findings == []
    finally:
        history.close()


def test_thresholds_come_from_the_config_tables(steady: History) -> None:
    steady.track(TODAY, 9, "Account Created", 10, identify=True)
    for hour in HOURS:
        steady.track(TODAY, hour, "Feature Used", 10)
    loose = {"volume_drop": {"min_ratio": 0.1}}
    assert only(steady.evaluate(ms(TODAY, 16), loose), "volume_drop") == []
    off = {"volume_drop": {"enabled": False}}
    assert "volume_drop" not in steady.evaluate(ms(TODAY, 16), off).evaluated
