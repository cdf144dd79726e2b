"""workflow_not_triggering on a real SQLite store with Customer.io reports: fires (with its alert
to a Slack-compatible webhook over HTTP) and resolves once journeys start again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.monitor.fakes import FakeSlack
from tests.monitor.helpers import TODAY, History, ms, only
from trackwell.core.ids import event_ulid
from trackwell.core.messages import parse_time
from trackwell.core.time import to_ms
from trackwell.io.config import ConfigError
from trackwell.monitor.alerts import Alerter, build_channels, parse_alerts
from trackwell.monitor.runner import load_options
from trackwell.monitor.settings import with_workflows
from trackwell.store import OutcomeReport

CONFIGURED = {"customerio": {"type": "customerio"}}
MINUTE = 60_000


def signups(history: History, hour: int, people: int) -> list[str]:
    """`people` new people sign up at `hour`, delivered to Customer.io a few seconds later;
    returns their user ids."""
    before = {e.key for e in history.store.recent_people(10_000)}
    history.track(TODAY, hour, "Account Created", people, identify=True)
    history.deliver("customerio", ms(TODAY, hour) + 5_000)
    return sorted({e.key for e in history.store.recent_people(10_000)} - before)


def triggered(history: History, people: list[str], campaign: str, minute: int) -> None:
    """Customer.io reports an email sent for each person, triggered by their signup."""
    reports = []
    for person in people:
        [entry] = [
            e
            for e in history.store.timeline(person).entries
            if e.message.get("event") == "Account Created"
        ]
        action = to_ms(parse_time(entry.message["timestamp"], "timestamp"))
        reports.append(
            OutcomeReport(
                source="customerio",
                event_id=f"{person}-{campaign}-{minute}",
                object_type="email",
                metric="sent",
                at_ms=ms(TODAY, 10, minute),
                customer_id=person,
                campaign_id=campaign,
                trigger_event_id=event_ulid(str(entry.message["messageId"]), action),
            )
        )
    history.store.record_reports(reports, ms(TODAY, 10, minute))


def broadcast(history: History) -> None:
    """A report of a broadcast, triggered by no event: proof that reports arrive."""
    report = OutcomeReport(
        source="customerio",
        event_id="broadcast-1",
        object_type="email",
        metric="sent",
        at_ms=ms(TODAY, 9, 30),
        broadcast_id="3",
    )
    history.store.record_reports([report], ms(TODAY, 9, 30))


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    history = History(tmp_path / "workflows.db")
    history.store.register_destination("customerio")
    yield history
    history.close()


def test_fires_when_customerio_triggers_no_journey_and_resolves_when_it_does(
    history: History, tmp_path: Path
) -> None:
    people = signups(history, 9, 40)
    broadcast(history)  # reporting works: a broadcast's report arrived
    monitors = with_workflows({}, {"Welcome email": ("12",)})
    with FakeSlack() as slack:
        table = {"channels": {"team": {"type": "slack"}}}
        alerter = Alerter(
            parse_alerts(table),
            build_channels(
                parse_alerts(table), {"TRACKWELL_ALERT_TEAM_URL": f"{slack.url}{slack.path}"}
            ),
            tmp_path / "alerts.json",
        )
        first = history.evaluate(ms(TODAY, 11), monitors, destinations=CONFIGURED)
        [finding] = only(first, "workflow_not_triggering")
        assert finding.severity == "critical"
        assert finding.title == (
            "'Account Created' feeds 'Welcome email': Customer.io triggered campaign 12 for 0 "
            "of the last 40 people who sent it"
        )
        assert "look at the workflow's own conditions" in finding.explanation
        assert finding.numbers["senders"] == 40 and finding.numbers["triggered"] == 0
        alerter.process(first)
        assert slack.messages[0]["text"].startswith("[CRITICAL] 'Account Created' feeds")

        # Journeys start: reports now name the signups as triggers, and the alert resolves.
        triggered(history, people[:30], "12", 40)
        again = history.evaluate(ms(TODAY, 11, 15), monitors, destinations=CONFIGURED)
        assert only(again, "workflow_not_triggering") == []
        [resolved] = alerter.process(again)
        assert resolved.event.action == "resolve"
        assert len(slack.messages) == 2
        for channel in alerter.channels:
            channel.close()


def test_an_unmapped_workflow_counts_any_journey_and_a_threshold_warns(history: History) -> None:
    people = signups(history, 9, 20)
    triggered(history, people[:2], "99", 10)  # some other campaign, 2 of 20 people
    unmapped = history.evaluate(ms(TODAY, 11), {}, destinations=CONFIGURED)
    assert only(unmapped, "workflow_not_triggering") == []  # any journey counts
    mapped = with_workflows({}, {"Welcome email": ("12",)})
    [zero] = only(
        history.evaluate(ms(TODAY, 11), mapped, destinations=CONFIGURED), "workflow_not_triggering"
    )
    assert zero.severity == "critical" and zero.numbers["triggered"] == 0
    lenient = {"workflow_not_triggering": {"max_share": 0.2}}
    [low] = only(
        history.evaluate(ms(TODAY, 11, 20), lenient, destinations=CONFIGURED),
        "workflow_not_triggering",
    )
    assert low.severity == "warning"
    assert "for 2 of the last 20 people" in low.title
    assert "Map 'Welcome email' to its campaign" in low.explanation


def test_silent_without_reports_or_with_too_few_people(history: History) -> None:
    signups(history, 9, 40)
    # No Customer.io report at all: the webhook is not set up, nothing can be said.
    evaluation = history.evaluate(ms(TODAY, 11), {}, destinations=CONFIGURED)
    assert only(evaluation, "workflow_not_triggering") == []
    broadcast(history)
    evaluation = history.evaluate(ms(TODAY, 11, 30), {}, destinations=CONFIGURED)
    assert len(only(evaluation, "workflow_not_triggering")) == 1
    quiet = {"workflow_not_triggering": {"min_people": 41}}
    evaluation = history.evaluate(ms(TODAY, 11, 30), quiet, destinations=CONFIGURED)
    assert only(evaluation, "workflow_not_triggering") == []


def test_campaigns_must_be_lists_of_ids() -> None:
    with pytest.raises(ConfigError, match="campaigns must map workflows"):
        load_options({"workflow_not_triggering": {"campaigns": {"Welcome email": "x"}}})
    options = load_options(with_workflows({}, {"Welcome email": ("12",)}))
    assert options["workflow_not_triggering"]["campaigns"] == {"Welcome email": ["12"]}
