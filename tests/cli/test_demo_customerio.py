"""The demo's Customer.io stand-in: what trackwell's destination sends starts journeys, and their
reports come back as signed reporting webhooks; a filtered workflow skips a person without the
trait it filters on, and the bouncing one bounces."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

import pytest

from tests.destinations.helpers import ACTION_SECONDS, identify, kinds, track
from tests.fakes.server import FakeServer, Received, Reply
from trackwell.cli.demo_customerio import (
    DEMO_API_KEY,
    DEMO_SITE_ID,
    WEBHOOK_PATH,
    DemoCustomerIO,
    Workflow,
    _bucket,
    sign,
    workflows_for,
)
from trackwell.core.messages import parse_time
from trackwell.destinations import CustomerIO
from trackwell.destinations.common import ulid_from
from trackwell.plan import Plan

KEY = "test-signing-key"


class Receiver(FakeServer):
    """The gateway's side: keeps each report whose signature checks, refuses the others."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[dict[str, Any]] = []

    def handle(self, request: Received) -> Reply:
        timestamp = request.headers.get("x-cio-timestamp", "")
        expected = sign(KEY, timestamp, request.body)
        if request.path != WEBHOOK_PATH or not hmac.compare_digest(
            request.headers.get("x-cio-signature", ""), expected
        ):
            return Reply(401, {"error": "bad signature"})
        self.reports.append(request.json())
        return Reply(200, {})


@pytest.fixture
def loop(example_plan: Plan) -> Iterator[tuple[DemoCustomerIO, Receiver, CustomerIO]]:
    """The stand-in reporting to a receiver, and a Customer.io destination pointed at it."""
    with Receiver() as receiver:
        demo = DemoCustomerIO(example_plan, gateway_url=receiver.url, webhook_key=KEY).start()
        destination = CustomerIO(
            "customerio", site_id=DEMO_SITE_ID, api_key=DEMO_API_KEY, base_url=demo.url
        )
        try:
            yield demo, receiver, destination
        finally:
            destination.close()
            demo.stop()


def _person(bucket_zero: bool) -> str:
    """A user id that bounces (bucket 0) or not."""
    return next(f"user-{n}" for n in range(100) if (_bucket(f"user-{n}") == 0) is bucket_zero)


def test_the_workflows_come_from_the_plans_used_by_one_filtered_one_bouncing(
    example_plan: Plan,
) -> None:
    workflows = workflows_for(example_plan)
    first, second = workflows[:2]
    assert first == Workflow(
        "Onboarding drip",
        1,
        frozenset({"Account Created", "Email Verified", "Onboarding Completed"}),
        requires="created_at",
    )
    assert second.name == "Welcome email" and second.bounces
    assert not any(w.requires or w.bounces for w in workflows[2:])
    # Page Viewed is a browser event: its workflow would start for nobody, so there is none.
    assert "Pricing page follow-up" not in {w.name for w in workflows}


def test_campaign_ids_follow_workflows_configuration_and_number_the_rest(
    example_plan: Plan,
) -> None:
    ids = {w.name: w.campaign_id for w in workflows_for(example_plan, {"Welcome email": ("1",)})}
    assert ids["Welcome email"] == 1 and ids["Onboarding drip"] == 2
    assert len(set(ids.values())) == len(ids)


def test_a_delivered_event_comes_back_as_signed_reports_linked_to_it(
    loop: tuple[DemoCustomerIO, Receiver, CustomerIO],
) -> None:
    demo, receiver, destination = loop
    person = _person(bucket_zero=False)
    traits = {"email": "ada@example.com", "created_at": ACTION_SECONDS}
    created = track("Account Created", user_id=person, properties={"plan": "free"})
    assert kinds(destination.deliver([identify(person, traits=traits)])) == ["delivered"]
    assert kinds(destination.deliver([created])) == ["delivered"]
    assert demo.wait_idle()
    steps = [(r["data"]["subject"], r["metric"]) for r in receiver.reports]
    assert steps == [
        ("Onboarding drip", "sent"), ("Onboarding drip", "delivered"), ("Onboarding drip", "opened"),
        ("Welcome email", "sent"), ("Welcome email", "delivered"), ("Welcome email", "opened"),
    ]  # fmt: skip
    event_id = ulid_from(created["messageId"], parse_time(created["timestamp"], ""))
    for report in receiver.reports:
        assert report["object_type"] == "email"
        assert report["data"]["customer_id"] == person
        assert report["data"]["identifiers"] == {"id": person, "email": "ada@example.com"}
        assert report["data"]["trigger_event_id"] == event_id
        assert report["timestamp"] >= ACTION_SECONDS


def test_a_person_without_the_filtered_trait_starts_no_journey_of_that_workflow(
    loop: tuple[DemoCustomerIO, Receiver, CustomerIO],
) -> None:
    demo, receiver, destination = loop
    person = _person(bucket_zero=True)
    destination.deliver([identify(person, traits={"email": "grace@example.com"})])
    destination.deliver([track("Account Created", user_id=person, properties={"plan": "pro"})])
    assert demo.wait_idle()
    steps = [(r["data"]["subject"], r["metric"]) for r in receiver.reports]
    # No created_at: Onboarding drip's filter excludes the person; Welcome email bounces.
    assert steps == [("Welcome email", "sent"), ("Welcome email", "bounced")]
    assert "mailbox" in receiver.reports[-1]["data"]["failure_message"]


def test_reports_signed_with_another_key_are_refused_and_not_counted(example_plan: Plan) -> None:
    with Receiver() as receiver:
        demo = DemoCustomerIO(example_plan, gateway_url=receiver.url, webhook_key="wrong").start()
        try:
            demo.identify("user-1", {"created_at": 1})
            demo.event("user-1", "Account Created", "01HV0000000000000000000000", None)
            assert demo.wait_idle()
        finally:
            demo.stop()
    assert receiver.reports == [] and demo.posted == []


def test_track_calls_without_the_demo_credentials_are_refused(example_plan: Plan) -> None:
    demo = DemoCustomerIO(example_plan, gateway_url="http://127.0.0.1:9").start()
    try:
        intruder = CustomerIO("cio", site_id=DEMO_SITE_ID, api_key="guess", base_url=demo.url)
        assert kinds(intruder.deliver([identify("user-1")])) == ["dead"]
        intruder.close()
    finally:
        demo.stop()
    assert demo.people == {}
