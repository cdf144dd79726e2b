"""delivery_lag and dead_letters: slow acknowledgements, an old backlog, refused messages."""

from __future__ import annotations

from tests.monitor.conftest import PER_HOUR
from tests.monitor.helpers import TODAY, History, ms, only


def test_slow_acknowledgements_raise_the_p95(steady: History) -> None:
    for hour in (9, 12):
        for event, count in PER_HOUR.items():
            steady.track(TODAY, hour, event, count, identify=event == "Account Created")
        steady.deliver("customerio", ms(TODAY, hour, 4))  # four minutes after arrival
        steady.deliver("mixpanel", ms(TODAY, hour) + 5_000)
    [finding] = only(steady.evaluate(ms(TODAY, 13)), "delivery_lag")
    assert finding.key == "customerio:p95"
    assert finding.numbers["p95"] == 300
    assert finding.numbers["delivered"] == 60
    assert "p95 5 min" in finding.explanation


def test_a_backlog_is_a_warning_then_critical(steady: History) -> None:
    steady.track(TODAY, 9, "Feature Used", 5)
    steady.deliver("mixpanel", ms(TODAY, 9) + 5_000)
    assert only(steady.evaluate(ms(TODAY, 9, 4)), "delivery_lag") == []
    [warning] = only(steady.evaluate(ms(TODAY, 9, 10)), "delivery_lag")
    assert (warning.key, warning.severity) == ("customerio:backlog", "warning")
    assert warning.title == "customerio: 5 messages waiting, the oldest for 10 min"
    [critical] = only(steady.evaluate(ms(TODAY, 11)), "delivery_lag")
    assert critical.severity == "critical"
    assert "`trackwell route`" in critical.explanation
    assert "72 hours" not in critical.explanation
    known = {"customerio": {"type": "customerio"}}
    [day_old] = only(steady.evaluate(ms(TODAY + 1, 10), destinations=known), "delivery_lag")
    assert "close to losing triggers for good" in day_old.explanation


def test_dead_letters_name_the_error_and_the_replay(steady: History) -> None:
    steady.track(TODAY, 9, "Account Created", 3, identify=True)
    steady.deliver("mixpanel", ms(TODAY, 9) + 5_000)
    steady.deliver(
        "customerio",
        ms(TODAY, 9) + 5_000,
        outcome=lambda d: "dead" if d.message["type"] == "track" else "delivered",
        error="400: attribute 'plan' is too long",
    )
    [finding] = only(steady.evaluate(ms(TODAY, 10)), "dead_letters")
    assert finding.key == "customerio"
    assert finding.severity == "warning"
    assert finding.numbers == {"dead": 3, "dead_today": 3}
    assert "'Account Created' (3)" in finding.explanation
    assert "attribute 'plan' is too long" in finding.explanation
    assert "trackwell replay --destination customerio --dead" in finding.explanation
    # A replay clears it.
    steady.store.requeue("customerio", dead_only=True, now_ms=ms(TODAY, 10))
    steady.deliver("customerio", ms(TODAY, 10, 1))
    assert only(steady.evaluate(ms(TODAY, 10, 2)), "dead_letters") == []


def test_old_dead_letters_are_not_news(steady: History) -> None:
    steady.track(TODAY - 1, 9, "Feature Used", 3)
    steady.deliver("customerio", ms(TODAY - 1, 9) + 5_000, outcome="dead", error="400 bad")
    steady.deliver("mixpanel", ms(TODAY - 1, 9) + 5_000)
    assert len(only(steady.evaluate(ms(TODAY - 1, 10)), "dead_letters")) == 1
    assert only(steady.evaluate(ms(TODAY, 10)), "dead_letters") == []


def test_many_dead_today_is_critical(steady: History) -> None:
    steady.track(TODAY, 9, "Feature Used", 120)
    steady.deliver("customerio", ms(TODAY, 9) + 5_000, outcome="dead", error="401 unauthorized")
    steady.deliver("mixpanel", ms(TODAY, 9) + 5_000)
    [finding] = only(steady.evaluate(ms(TODAY, 10)), "dead_letters")
    assert finding.severity == "critical"
