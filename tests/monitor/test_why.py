"""`why`: each common cause of "the campaign did not fire", diagnosed on a synthetic history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.monitor.helpers import TODAY, History, at, identify_message, iso, ms
from trackwell.monitor.why import WhyReport, why
from trackwell.store import Delivery

DESTINATIONS = {"customerio": {"type": "customerio"}, "mixpanel": {"type": "mixpanel"}}
SIGNUP = {"plan": "free", "signup_source": "organic"}


def track(user: str, minute: int, event: str = "Account Created", **extra: Any) -> dict[str, Any]:
    message = {
        "type": "track",
        "userId": user,
        "event": event,
        "properties": dict(SIGNUP),
        "timestamp": iso(at(TODAY, 9, minute)),
    }
    message.update(extra)
    return message


def outcome(delivery: Delivery, destination: str) -> str:
    gus_track = delivery.message.get("userId") == "gus" and delivery.message["type"] == "track"
    if gus_track:
        return "dead" if destination == "customerio" else "retry"
    if delivery.message.get("userId") == "ivy" and destination == "mixpanel":
        return "captured"  # mixpanel configured in capture mode
    return "delivered"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    history = History(Path(tmp_path_factory.mktemp("why")) / "why.db")
    for name in DESTINATIONS:
        history.store.register_destination(name)
    hello = at(TODAY, 9)
    history.send(TODAY, 9, [
        {"type": "page", "anonymousId": "anon-ada", "name": "Pricing", "timestamp": iso(hello - timedelta(minutes=30))},
        {**identify_message("ada", hello), "anonymousId": "anon-ada"}, track("ada", 1),
        identify_message("bob", hello), track("bob", 1, "Acount Created"),
        identify_message("cy", hello), track("cy", 1, "account created"),
        identify_message("dee", hello), track("dee", 1, properties={"plan": "enterprise"}),
        track("eve", 1),
    ])  # fmt: skip
    history.send(TODAY, 9, [identify_message("eve", hello + timedelta(minutes=3))], minute=3)
    stale = iso(at(TODAY, 9) - timedelta(hours=80))
    history.send(
        TODAY, 9, [identify_message("fay", hello), track("fay", 0, timestamp=stale)], minute=4
    )
    history.send(TODAY, 9, [identify_message("gus", hello), track("gus", 1)], minute=5)
    history.send(TODAY, 9, [identify_message("ivy", hello), track("ivy", 1)], minute=5)
    for name in DESTINATIONS:
        history.deliver(
            name,
            ms(TODAY, 9, 6),
            outcome=lambda d, n=name: outcome(d, n),
            error="400: invalid attribute 'plan'",
        )
    history.send(TODAY, 9, [identify_message("hal", hello), track("hal", 10)], minute=10)
    yield history
    history.close()


def ask(
    history: History, person: str, event: str | None = "Account Created", minutes: int = 30
) -> WhyReport:
    return why(
        history.store,
        history.compiled,
        person,
        now_ms=ms(TODAY, 9, minutes),
        event=event,
        destinations=DESTINATIONS,
    )


def codes(report: WhyReport) -> list[str]:
    return [d.code for d in report.diagnoses]


def test_an_event_that_arrived_and_was_delivered(history: History) -> None:
    report = ask(history, "anon-ada")  # any anonymous id finds the person
    assert codes(report) == ["ok"]
    assert "went to customerio, mixpanel" in report.diagnoses[0].message
    assert report.timeline.anonymous_ids == ("anon-ada",)
    assert report.entries[0].message.get("name") == "Pricing"


def test_the_event_arrived_under_a_misspelled_name(history: History) -> None:
    report = ask(history, "bob")
    assert codes(report) == ["never_arrived", "other_name"]
    assert (
        "It arrived as 'Acount Created' (1 letter apart) 1 time(s), blocked"
        in report.diagnoses[1].message
    )


def test_the_event_arrived_in_another_case(history: History) -> None:
    [_, other] = ask(history, "cy").diagnoses
    assert "'account created' (the same words in another case or separator)" in other.message


def test_a_blocked_event_says_why(history: History) -> None:
    [blocked] = ask(history, "dee").diagnoses
    assert blocked.code == "blocked"
    assert "enterprise" in blocked.message


def test_an_event_before_identify_had_no_traits_and_made_a_bare_profile(history: History) -> None:
    report = ask(history, "eve")
    assert codes(report) == [
        "missing_trait",
        "delivered_before_profile",
        "delivered_before_profile",
    ]
    assert (
        "email, created_at were not set when it arrived (an identify came later"
        in report.diagnoses[0].message
    )


def test_an_action_time_too_old_for_customerio(history: History) -> None:
    [stale] = ask(history, "fay").diagnoses
    assert (stale.code, stale.destination) == ("stale_for_customerio", "customerio")
    assert "80 h old" in stale.message


def test_dead_and_retrying_deliveries_show_the_answer(history: History) -> None:
    report = ask(history, "gus")
    assert [(d.code, d.destination) for d in report.diagnoses] == [
        ("delivery_dead", "customerio"),
        ("delivery_retrying", "mixpanel"),
    ]
    assert "invalid attribute 'plan'" in report.diagnoses[0].message
    assert "trackwell replay --destination customerio --message-id" in report.diagnoses[0].message


def test_a_captured_message_is_never_called_delivered(history: History) -> None:
    report = ask(history, "ivy")
    assert [(d.code, d.destination) for d in report.diagnoses] == [
        ("delivery_captured", "mixpanel")
    ]
    (captured,) = report.diagnoses
    assert "capture mode" in captured.message and "never sent" in captured.message
    assert "trackwell replay --destination mixpanel --captured" in captured.message


def test_a_message_the_router_never_took(history: History) -> None:
    assert codes(ask(history, "hal", minutes=12)) == ["ok"]
    report = ask(history, "hal", minutes=20)
    assert codes(report) == ["delivery_stuck", "delivery_stuck"]
    assert "`trackwell route`" in report.diagnoses[0].message
    days_later = ask(history, "hal", minutes=73 * 60)
    assert codes(days_later) == ["stale_for_customerio", "delivery_stuck", "delivery_stuck"]
    assert "customerio still has it pending" in days_later.diagnoses[0].message


def test_an_event_nobody_sent_and_a_person_nobody_knows(history: History) -> None:
    assert codes(ask(history, "ada", "Feature Used")) == ["never_arrived"]
    assert codes(ask(history, "ada", "Feature Usde")) == ["never_arrived", "not_planned"]
    assert codes(ask(history, "nobody")) == ["unknown_person"]


def test_without_an_event_the_person_is_checked_as_a_whole(history: History) -> None:
    assert codes(ask(history, "ada", None)) == []
    assert codes(ask(history, "bob", None)) == ["blocked"]
    assert "delivered_before_profile" in codes(ask(history, "eve", None))
