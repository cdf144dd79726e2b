"""Alerts over real HTTP: Slack, PagerDuty and a signed webhook; fire once, re-fire, resolve."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.monitor.fakes import FakeAlertHook, FakePagerDuty, FakeSlack
from trackwell.io.config import ConfigError
from trackwell.monitor import Evaluation, Finding
from trackwell.monitor.alerts import Alerter, build_channels, parse_alerts, state_path
from trackwell.monitor.channels import Channel

NOW = 1_900_000_000_000
MINUTE = 60_000
DEAD = Finding(
    "dead_letters",
    "customerio",
    "warning",
    "customerio: 12 dead letters (12 today)",
    "12 messages were refused by customerio. Fix <this> & replay.",
    12.0,
    {"dead": 12},
)
LEAK = Finding("sensitive_data", "web:Feature Used", "critical", "Sensitive data", "Fix it.", 3.0)


Fakes = tuple[FakeSlack, FakePagerDuty, FakeAlertHook]
TABLE: dict[str, object] = {
    "quiet_minutes": 60,
    "channels": {
        "team": {"type": "slack"},
        "oncall": {"type": "pagerduty", "min_severity": "critical"},
        "hooks": {"type": "webhook", "min_severity": "info"},
    },
}


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with FakeSlack() as slack, FakePagerDuty() as pagerduty, FakeAlertHook() as hook:
        yield slack, pagerduty, hook


@pytest.fixture
def built(fakes: Fakes) -> Iterator[list[Channel]]:
    """The three channels, pointed at the fakes through the environment (and PagerDuty's url)."""
    slack, pagerduty, hook = fakes
    table = json.loads(json.dumps(TABLE))
    table["channels"]["oncall"]["url"] = f"{pagerduty.url}/v2/enqueue"
    environ = {
        "TRACKWELL_ALERT_TEAM_URL": f"{slack.url}{slack.path}",
        "TRACKWELL_ALERT_ONCALL_ROUTING_KEY": pagerduty.routing_key,
        "TRACKWELL_ALERT_HOOKS_URL": f"{hook.url}/alerts",
        "TRACKWELL_ALERT_HOOKS_SECRET": hook.secret,
    }
    channels = build_channels(parse_alerts(table), environ)
    yield channels
    for channel in channels:
        channel.close()


def evaluation(
    *findings: Finding, at: int = NOW, errors: dict[str, str] | None = None
) -> Evaluation:
    return Evaluation(at, list(findings), ("dead_letters", "sensitive_data"), errors or {})


def test_an_alert_fires_once_reminds_after_the_quiet_period_and_resolves(
    fakes: Fakes, built: list[Channel], tmp_path: Path
) -> None:
    slack, pagerduty, hook = fakes
    alerter = Alerter(parse_alerts(TABLE), built, tmp_path / "alerts.json")
    notices = alerter.process(evaluation(DEAD))
    assert [(n.channel, n.event.reason, n.error) for n in notices] == [
        ("team", "new", None),
        ("hooks", "new", None),
    ]
    assert slack.messages[0]["text"] == "[WARNING] customerio: 12 dead letters (12 today)"
    assert "Fix &lt;this&gt; &amp; replay." in json.dumps(slack.messages[0]["blocks"])
    assert hook.alerts[0]["dedupKey"] == "trackwell:dead_letters:customerio"
    assert pagerduty.events == []  # warnings do not page
    # Unchanged a minute later: nothing. After the quiet hour: a reminder.
    assert alerter.process(evaluation(DEAD, at=NOW + MINUTE)) == []
    reminder = alerter.process(evaluation(DEAD, at=NOW + 61 * MINUTE))
    assert {n.event.reason for n in reminder} == {"reminder"}
    assert slack.messages[-1]["text"].startswith("[WARNING] Still open:")
    # Cleared: resolved on every channel that had it, and forgotten.
    resolved = alerter.process(evaluation(at=NOW + 62 * MINUTE))
    assert {(n.channel, n.event.action) for n in resolved} == {
        ("team", "resolve"),
        ("hooks", "resolve"),
    }
    assert slack.messages[-1]["text"] == "Resolved: customerio: 12 dead letters (12 today)"
    assert json.loads((tmp_path / "alerts.json").read_text())["alerts"] == {}


def test_worse_re_fires_and_reaches_the_pager(
    fakes: Fakes, built: list[Channel], tmp_path: Path
) -> None:
    slack, pagerduty, _ = fakes
    alerter = Alerter(parse_alerts(TABLE), built, tmp_path / "alerts.json")
    alerter.process(evaluation(DEAD))
    # 30 % more dead letters is under the 50 % margin: nothing new.
    assert alerter.process(evaluation(replace(DEAD, value=15.6), at=NOW + MINUTE)) == []
    worse = alerter.process(evaluation(replace(DEAD, value=20.0), at=NOW + 2 * MINUTE))
    assert {n.event.reason for n in worse} == {"worse"}
    critical = replace(DEAD, value=20.0, severity="critical")
    paged = alerter.process(evaluation(critical, at=NOW + 3 * MINUTE))
    assert {n.channel for n in paged} == {"team", "oncall", "hooks"}
    assert pagerduty.incidents == 1
    assert pagerduty.open["trackwell:dead_letters:customerio"]["severity"] == "critical"
    alerter.process(evaluation(at=NOW + 4 * MINUTE))
    assert pagerduty.open == {}
    assert pagerduty.events[-1] == {
        "routing_key": pagerduty.routing_key,
        "event_action": "resolve",
        "dedup_key": "trackwell:dead_letters:customerio",
    }
    assert len(slack.messages) == 4


def test_a_failed_send_is_retried_next_round_and_only_there(
    fakes: Fakes, built: list[Channel], tmp_path: Path
) -> None:
    slack, pagerduty, hook = fakes
    alerter = Alerter(parse_alerts(TABLE), built, tmp_path / "alerts.json")
    pagerduty.fail_next(1, status=500)
    first = alerter.process(evaluation(LEAK))
    assert [n.channel for n in first if n.error] == ["oncall"]
    assert "answered 500" in str(next(n.error for n in first if n.error))
    second = alerter.process(evaluation(LEAK, at=NOW + MINUTE))
    assert [(n.channel, n.error) for n in second] == [("oncall", None)]
    assert pagerduty.incidents == 1 and len(slack.messages) == 1 and len(hook.alerts) == 1


def test_a_failing_monitor_does_not_resolve_its_alerts(
    built: list[Channel], tmp_path: Path
) -> None:
    alerter = Alerter(parse_alerts(TABLE), built, tmp_path / "alerts.json")
    alerter.process(evaluation(DEAD))
    assert (
        alerter.process(evaluation(at=NOW + MINUTE, errors={"dead_letters": "StoreError: locked"}))
        == []
    )
    assert "dead_letters:customerio" in json.loads((tmp_path / "alerts.json").read_text())["alerts"]


def test_findings_below_the_minimum_severity_are_not_sent(
    built: list[Channel], tmp_path: Path
) -> None:
    alerter = Alerter(parse_alerts({"min_severity": "critical"}), built, tmp_path / "alerts.json")
    assert alerter.process(evaluation(DEAD)) == []


def test_secrets_come_only_from_the_environment() -> None:
    with pytest.raises(ConfigError, match="TRACKWELL_ALERT_TEAM_URL"):
        build_channels(
            parse_alerts(
                {
                    "channels": {
                        "team": {
                            "type": "slack",
                            "url": "https://hooks.slack.com/services/T/B/secret",
                        }
                    }
                }
            ),
            {},
        )
    with pytest.raises(ConfigError, match="set TRACKWELL_ALERT_ONCALL_ROUTING_KEY"):
        build_channels(parse_alerts({"channels": {"oncall": {"type": "pagerduty"}}}), {})
    with pytest.raises(ConfigError, match="type must be one of slack, pagerduty, webhook"):
        build_channels(parse_alerts({"channels": {"x": {"type": "email"}}}), {})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_alerts({"severity": "warning"})


def test_state_lives_beside_the_sqlite_store(tmp_path: Path) -> None:
    settings = parse_alerts({})
    assert state_path(settings, "sqlite:///.trackwell/trackwell.db") == Path(
        ".trackwell/alerts.json"
    )
    assert state_path(settings, "postgresql://db/x") == Path(".trackwell/alerts.json")
    chosen = parse_alerts({"state_file": "state/alerts.json"})
    assert state_path(chosen, "sqlite:///x.db", tmp_path) == tmp_path / "state/alerts.json"
