"""`why` end to end on a real SQLite store: the event as sent, its delivery, and what Customer.io
did (from stored reporting-webhook reports), each cause in plain words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.monitor.helpers import TODAY, History, at, identify_message, iso, ms
from trackwell.core.ids import event_ulid
from trackwell.core.privacy import Subject
from trackwell.monitor.why import WhyReport, resolve_workflow, why, why_document
from trackwell.monitor.why_outcomes import Workflow
from trackwell.store import Delivery, OutcomeReport

DESTINATIONS = {"customerio": {"type": "customerio"}}
SIGNUP = {"plan": "free", "signup_source": "organic"}
# Customer.io acknowledged the signups at 09:06; the reports came in minutes later.
DELIVERED = ms(TODAY, 9, 6)
WITHHELD = "withheld: the person is suppressed"  # the router's wording (pipeline/router.py)


def signup(user: str, minute: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": "Account Created",
        "properties": dict(SIGNUP),
        "timestamp": iso(at(TODAY, 9, minute)),
        **extra,
    }


def outcome(delivery: Delivery) -> str:
    user = delivery.message.get("userId")
    if user == "pat" and delivery.message["type"] == "track":
        return "no_consent"
    if user == "ron" and delivery.message["type"] == "track":
        return "retry"
    if user == "sue" and delivery.message["type"] == "track":
        return "dead"
    return "delivered"


def message_id(history: History, person: str, event: str = "Account Created") -> str:
    [entry] = [e for e in history.store.timeline(person).entries if e.message.get("event") == event]
    return str(entry.message["messageId"])


def report(
    history: History,
    person: str,
    metric: str,
    minute: int,
    *,
    campaign: str = "12",
    failure: str | None = None,
    object_type: str = "email",
) -> OutcomeReport:
    """A Customer.io reporting-webhook report of a message the person's signup triggered: it
    names the trigger by the ULID trackwell sent the event under, as Customer.io does."""
    trigger = message_id(history, person)
    data: dict[str, Any] = {"customer_id": person, "campaign_id": int(campaign)}
    if failure is not None:
        data["failure_message"] = failure
    return OutcomeReport(
        source="customerio",
        event_id=f"{person}-{metric}-{campaign}",
        object_type=object_type,
        metric=metric,
        at_ms=ms(TODAY, 9, minute),
        customer_id=person,
        campaign_id=campaign,
        journey_id=f"journey-{person}",
        action_id="3",
        delivery_id=f"delivery-{person}",
        trigger_event_id=event_ulid(trigger, ms(TODAY, 9, 1)),
        body={"metric": metric, "object_type": object_type, "data": data},
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    history = History(Path(tmp_path_factory.mktemp("why-outcomes")) / "why.db")
    history.store.register_destination("customerio")
    hello = at(TODAY, 9)
    people = ["kim", "lee", "mo", "pat", "ron", "sue", "tia"]
    history.send(
        TODAY, 9, [m for p in people for m in (identify_message(p, hello), signup(p))], minute=1
    )
    history.deliver("customerio", DELIVERED, outcome=outcome, error="400: invalid attribute")
    history.store.record_reports(
        [
            report(history, "kim", "sent", 7),
            report(history, "kim", "delivered", 8),
            report(history, "kim", "opened", 20),
            report(history, "mo", "sent", 7),
            report(history, "mo", "bounced", 8, failure="550 5.1.1 mailbox unavailable"),
            # tia's signup started another campaign too, not the welcome email.
            report(history, "tia", "sent", 7, campaign="99"),
        ],
        ms(TODAY, 9, 21),
    )
    # Identity: an anonymous id of kim's claimed by uma, and an alias merging two users.
    history.send(
        TODAY,
        9,
        [
            {**identify_message("kim", hello), "anonymousId": "anon-kim"},
            {**identify_message("uma", hello + timedelta(minutes=2)), "anonymousId": "anon-kim"},
            identify_message("val", hello),
            {"type": "alias", "userId": "uma", "previousId": "val", "timestamp": iso(hello)},
        ],
        minute=22,
    )
    yield history
    history.close()


def ask(
    history: History,
    person: str,
    *,
    event: str | None = "Account Created",
    minutes: int = 60,
    workflow: Workflow | None = None,
    trigger_minutes: int = 30,
) -> WhyReport:
    return why(
        history.store,
        history.compiled,
        person,
        now_ms=ms(TODAY, 9, minutes),
        event=event,
        workflow=workflow,
        destinations=DESTINATIONS,
        trigger_minutes=trigger_minutes,
    )


def codes(answer: WhyReport) -> list[str]:
    return [d.code for d in answer.diagnoses]


def test_a_triggered_journey_is_the_last_half_of_the_answer(history: History) -> None:
    answer = ask(history, "kim", event="Account Created")
    assert codes(answer)[-2:] == ["ok", "journey_triggered"]
    triggered = answer.diagnoses[-1].message
    assert "Customer.io triggered campaign 12 from it" in triggered
    assert "reported: email sent, email delivered, email opened" in triggered
    assert answer.reporting and not answer.unreported


def test_no_journey_within_n_minutes_points_at_the_workflows_conditions(
    history: History,
) -> None:
    answer = ask(history, "lee")
    assert codes(answer) == ["ok", "journey_not_triggered"]
    [_, missing] = answer.diagnoses
    assert missing.destination == "customerio"
    assert missing.message.startswith("No journey triggered from this event within 30 minutes")
    assert "it feeds 'Welcome email' (plan `used_by`)" in missing.message
    assert "trigger (the event name and property filters)" in missing.message
    assert "frequency" in missing.message and "attributes" in missing.message
    # Within the window it is too early to say; N is the caller's.
    assert codes(ask(history, "lee", minutes=20)) == ["ok"]
    assert codes(ask(history, "lee", minutes=20, trigger_minutes=10))[-1] == "journey_not_triggered"


def test_a_bounced_message_names_the_tools_answer(history: History) -> None:
    answer = ask(history, "mo")
    assert codes(answer) == ["ok", "message_bounced"]
    assert (
        "Customer.io triggered campaign 12 from it, and its email bounced"
        in answer.diagnoses[1].message
    )
    assert "550 5.1.1 mailbox unavailable" in answer.diagnoses[1].message


def test_missing_consent_retrying_and_dead_deliveries(history: History) -> None:
    [consent] = ask(history, "pat").diagnoses
    assert consent.code == "delivery_no_consent"
    assert "not delivered to customerio" in consent.message
    assert ask(history, "ron").diagnoses[0].code == "delivery_retrying"
    assert "1 failed attempt(s): 400: invalid attribute" in ask(history, "ron").diagnoses[0].message
    [dead] = ask(history, "sue").diagnoses
    assert dead.code == "delivery_dead" and "400: invalid attribute" in dead.message
    # None of them reached Customer.io: no journey is expected, so none is reported missing.
    for person in ("pat", "ron", "sue"):
        assert "journey_not_triggered" not in codes(ask(history, person))


def test_workflow_limits_the_answer_to_its_events_and_campaigns(history: History) -> None:
    mapping = {"Welcome email": ("12",)}
    welcome = resolve_workflow(history.compiled, "welcome EMAIL", mapping)
    assert welcome == Workflow("Welcome email", frozenset({"12"}), named=True)
    assert resolve_workflow(history.compiled, "12", mapping) == welcome
    bare = resolve_workflow(history.compiled, "99", mapping)
    assert (bare.name, bare.named) == ("campaign 99", False)
    with pytest.raises(ValueError, match="did you mean 'Welcome email'"):
        resolve_workflow(history.compiled, "Welcome emial", mapping)

    answer = ask(history, "tia", event=None, workflow=welcome)
    # tia's signup triggered campaign 99 only: for the welcome email, nothing was triggered.
    assert codes(answer) == ["ok", "journey_not_triggered"]
    assert answer.reports == {}
    assert ask(history, "kim", event=None, workflow=welcome).diagnoses[-1].code == (
        "journey_triggered"
    )
    other = ask(history, "tia", event=None, workflow=bare)
    assert other.diagnoses == []  # the overall view: a triggered journey is no news
    assert list(other.reports) == [message_id(history, "tia")]


def test_the_json_document_carries_every_half_in_a_stable_shape(history: History) -> None:
    document = why_document(ask(history, "mo"))
    assert set(document) == {
        "person",
        "event",
        "workflow",
        "profile",
        "anonymousIds",
        "merges",
        "events",
        "otherReports",
        "reporting",
        "unreported",
        "triggerMinutes",
        "diagnosis",
    }
    [signed_up] = [e for e in document["events"] if e.get("event") == "Account Created"]
    assert signed_up["verdict"] == "accepted"
    assert signed_up["deliveries"]["customerio"]["status"] == "delivered"
    assert [(r["metric"], r["campaignId"]) for r in signed_up["reports"]] == [
        ("sent", "12"),
        ("bounced", "12"),
    ]
    assert signed_up["reports"][1]["failure"] == "550 5.1.1 mailbox unavailable"
    assert signed_up["reports"][1]["at"].endswith("Z")
    assert [d["code"] for d in document["diagnosis"]] == ["ok", "message_bounced"]
    assert document["triggerMinutes"] == 30 and document["workflow"] is None


def test_identity_conflicts_and_refused_merges_are_named(history: History) -> None:
    uma = ask(history, "uma", event=None)
    found = {d.code: d.message for d in uma.diagnoses}
    assert "tried to tie anonymous id 'anon-kim' to 'uma'" in found["identity_conflict"]
    assert "already belongs to user 'kim'" in found["identity_conflict"]
    assert "tried to merge 'val' into 'uma'" in found["alias_refused"]
    assert "two identified users are never merged" in found["alias_refused"]
    # The other side of the conflict sees it too.
    assert "identity_conflict" in codes(ask(history, "kim", event=None))


def test_suppressed_and_withheld(tmp_path: Path) -> None:
    history = History(tmp_path / "privacy.db")
    history.store.register_destination("customerio")
    history.send(TODAY, 9, [identify_message("wes", at(TODAY, 9)), signup("wes")], minute=1)
    history.store.suppress(
        Subject(user_ids=("wes",)),
        request_id="prv_1",
        actor="test",
        destinations=["customerio"],
        now_ms=ms(TODAY, 9, 2),
    )
    history.deliver("customerio", DELIVERED, outcome="dead", error=WITHHELD)
    answer = ask(history, "wes")
    assert codes(answer)[0] == "suppressed"
    assert "trackwell privacy unsuppress" in answer.diagnoses[0].message
    withheld = [d for d in answer.diagnoses if d.code == "delivery_withheld"]
    assert withheld and "not sent to customerio: the person is suppressed" in withheld[0].message
    history.close()
