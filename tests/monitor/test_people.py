"""missing_identify, timestamp_discipline and sensitive_data on synthetic histories."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.monitor.conftest import clean_today
from tests.monitor.helpers import TODAY, History, at, identify_message, iso, ms, only
from trackwell.core.violations import Violation
from trackwell.pipeline.accept import prepare


def test_a_deploy_that_breaks_identify_is_critical(steady: History) -> None:
    for hour in (9, 12):
        steady.track(TODAY, hour, "Account Created", 15)  # no identify any more
        steady.track(TODAY, hour, "Feature Used", 10)
    [finding] = only(steady.evaluate(ms(TODAY, 13)), "missing_identify")
    assert finding.severity == "critical"
    # Every day half the new people (the feature users) are identified later, elsewhere.
    assert (
        finding.title
        == "Only 0 % of today's 50 new people were identified with traits (usually 50 %)"
    )
    assert finding.numbers["profiles_without_traits"] == 28 * 30 + 50
    assert "Customer.io campaigns skip them" in finding.explanation


def test_a_stack_that_always_identifies_later_is_not_alarmed(tmp_path: Path) -> None:
    history = History(tmp_path / "late.db")
    try:
        for day in range(TODAY - 14, TODAY + 1):
            history.track(day, 9, "Account Created", 30)
            # The identify comes an hour later, in another batch: never "new" any more.
            history.send(
                day,
                10,
                [
                    identify_message(f"user-{history.prefix}-{n}", at(day, 10))
                    for n in range(history.serial - 29, history.serial + 1)
                ],
            )
        evaluation = history.evaluate(ms(TODAY, 11), {"missing_identify": {"min_share": 0.5}})
        assert only(evaluation, "missing_identify") == []
    finally:
        history.close()


def test_identify_after_track_rates_by_source(steady: History) -> None:
    checked = []
    for n in range(20):
        message = identify_message(f"web-{n}", at(TODAY, 9))
        item = prepare(steady.compiled, message, at(TODAY, 9), source="web")
        if n < 15:  # the gateway saw their events first
            late = Violation("identify_after_track", "type", "events before the first identify")
            item = type(item)(
                item.message, item.verdict, (*item.violations, late), item.body, "web"
            )
        checked.append(item)
    steady.store.write_batch(checked)
    [finding] = [
        f
        for f in only(steady.evaluate(ms(TODAY, 10)), "missing_identify")
        if f.key.startswith("identify_after")
    ]
    assert finding.key == "identify_after_track:web"
    assert finding.numbers == {"late": 15, "identifies": 20}


def test_events_without_an_action_time(steady: History) -> None:
    clean_today(steady)
    steady.track(TODAY, 12, "Feature Used", 120, timestamp=False, source="jobs")
    [finding] = only(steady.evaluate(ms(TODAY, 16)), "timestamp_discipline")
    assert finding.key == "missing:jobs:Feature Used"
    assert finding.numbers == {"missing": 120, "received": 120}


def test_one_event_stamped_at_send_time_stands_out_from_its_source(steady: History) -> None:
    clean_today(steady)
    steady.track(TODAY, 12, "Button Clicked", 150, lag_seconds=0)
    [finding] = only(steady.evaluate(ms(TODAY, 16)), "timestamp_discipline")
    assert finding.key == "queue_time:backend:Button Clicked"
    assert "carry the send time" in finding.title


def test_a_source_whose_events_all_happen_at_call_time_is_fine(tmp_path: Path) -> None:
    history = History(tmp_path / "sdk.db")
    try:
        for day in range(TODAY - 3, TODAY + 1):
            for event in ("Account Created", "Feature Used", "Button Clicked"):
                history.track(
                    day,
                    9,
                    event,
                    60,
                    lag_seconds=0,
                    source="trackwell-python",
                    identify=event == "Account Created",
                )
        assert only(history.evaluate(ms(TODAY, 10)), "timestamp_discipline") == []
    finally:
        history.close()


def test_any_sensitive_data_is_critical(steady: History) -> None:
    moment = at(TODAY, 9) - timedelta(seconds=1)
    steady.send(
        TODAY,
        9,
        [
            {
                "type": "track",
                "userId": "u-1",
                "event": "Feature Used",
                "timestamp": iso(moment),
                "properties": {"feature_name": "billing", "card": "4111 1111 1111 1111"},
            }
        ],
        source="web",
    )
    [finding] = only(steady.evaluate(ms(TODAY, 10)), "sensitive_data")
    assert (finding.key, finding.severity) == ("web:Feature Used", "critical")
    assert "redacted the values before storing" in finding.explanation
    assert "4111" not in finding.explanation + finding.title
