"""blocked_rate: a source whose messages are mostly blocked is named, with why and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.monitor.conftest import clean_today
from tests.monitor.fakes import FakeSlack
from tests.monitor.helpers import TODAY, History, ms, only
from trackwell.io.config import ConfigError
from trackwell.monitor.alerts import Alerter, build_channels, parse_alerts

TYPO = "Acount Created"  # unplanned, and the test plan blocks unplanned events


def test_a_source_whose_requests_are_all_blocked_fires_with_codes_and_events(
    steady: History,
) -> None:
    clean_today(steady, (9,))
    steady.track(TODAY, 9, TYPO, 60, source="web")
    steady.track(TODAY, 9, "Totally Random", 5, source="web")
    [finding] = only(steady.evaluate(ms(TODAY, 9, 30)), "blocked_rate")
    assert finding.key == "web" and finding.severity == "critical"
    assert finding.title == (
        "Source 'web': 100 % of its messages blocked in the last 2 h (65 of 65)"
    )
    assert finding.numbers["codes"] == {"unplanned_event": 65}
    assert finding.numbers["events"] == {f"'{TYPO}'": 60, "'Totally Random'": 5}
    assert "unplanned_event ×65" in finding.explanation
    assert "answered 200" in finding.explanation
    assert "strict = true" in finding.explanation and "[sources.web]" in finding.explanation
    assert finding.value == 1.0


def test_the_usual_share_is_named_and_the_source_is_what_counts(steady: History) -> None:
    # 'backend' sends the steady traffic every day with nothing blocked; today half of it is.
    steady.track(TODAY, 9, "Feature Used", 40)
    steady.track(TODAY, 9, TYPO, 60)
    [finding] = only(steady.evaluate(ms(TODAY, 9, 30)), "blocked_rate")
    assert finding.key == "backend" and finding.numbers["usual_share"] == 0
    assert "Usually 0 % of this source's messages are blocked." in finding.explanation


def test_quiet_under_the_threshold_and_on_too_little_traffic(steady: History) -> None:
    steady.track(TODAY, 9, "Feature Used", 100, source="web")
    steady.track(TODAY, 9, TYPO, 10, source="web")  # 9 %: under max_share
    steady.track(TODAY, 9, TYPO, 20, source="cli")  # all blocked, but 20 < min_messages
    assert only(steady.evaluate(ms(TODAY, 9, 30)), "blocked_rate") == []
    tighter = {"blocked_rate": {"max_share": 0.05, "min_messages": 20}}
    found = only(steady.evaluate(ms(TODAY, 9, 30), tighter), "blocked_rate")
    assert {(f.key, f.severity) for f in found} == {("web", "warning"), ("cli", "critical")}


def test_the_alert_fires_and_resolves_when_the_rate_drops(steady: History, tmp_path: Path) -> None:
    steady.track(TODAY, 9, TYPO, 80, source="web")
    table = {"channels": {"team": {"type": "slack"}}}
    with FakeSlack() as slack:
        environ = {"TRACKWELL_ALERT_TEAM_URL": f"{slack.url}{slack.path}"}
        channels = build_channels(parse_alerts(table), environ)
        try:
            alerter = Alerter(parse_alerts(table), channels, tmp_path / "alerts.json")
            alerter.process(steady.evaluate(ms(TODAY, 9, 30)))
            texts = [m["text"] for m in slack.messages]
            assert any(t.startswith("[CRITICAL] Source 'web': 100 %") for t in texts), texts
            # Fixed at 10:00: the source sends clean events; 9:00 leaves the 2-hour window.
            steady.track(TODAY, 10, "Feature Used", 60, source="web")
            steady.track(TODAY, 11, "Feature Used", 60, source="web")
            later = steady.evaluate(ms(TODAY, 11, 30))
            assert only(later, "blocked_rate") == []
            alerter.process(later)
            texts = [m["text"] for m in slack.messages]
            assert any(t.startswith("Resolved: Source 'web'") for t in texts), texts
        finally:
            for channel in channels:
                channel.close()


def test_the_window_reaches_across_midnight(steady: History) -> None:
    steady.track(TODAY - 1, 23, TYPO, 60, source="web")
    [finding] = only(steady.evaluate(ms(TODAY, 0, 10)), "blocked_rate")
    assert finding.key == "web" and finding.numbers["codes"] == {"unplanned_event": 60}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"max_share": 1.5}, "max_share must be between 0 and 1"),
        ({"hours": 0}, "hours must be between 1 and 167"),
    ],
)
def test_thresholds_are_checked(steady: History, table: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        steady.evaluate(ms(TODAY, 9), {"blocked_rate": table})
