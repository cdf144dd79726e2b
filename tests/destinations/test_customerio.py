"""Customer.io: the Track API mapping (v1 and v2), its limits, and its answers, against the fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.destinations.helpers import (
    ACTION_SECONDS,
    alias,
    group,
    identify,
    kinds,
    page,
    screen,
    track,
)
from tests.fakes import FakeCustomerIO
from tests.fakes.customerio import ULID
from trackwell.core.messages import parse_time
from trackwell.destinations import CaptureTransport, CustomerIO, HttpRequest, HttpResponse, Outgoing
from trackwell.destinations.common import ulid_from

Closing = Callable[[CustomerIO], CustomerIO]


def captured(mode: str, messages: list[dict[str, Any]]) -> list[HttpRequest]:
    """The requests a destination in capture mode makes for `messages`."""
    destination = CustomerIO(mode=mode, capture=True)  # type: ignore[arg-type]
    assert destination.capture
    destination.deliver(messages)
    assert isinstance(destination.transport, CaptureTransport)
    return destination.transport.requests


def body(request: HttpRequest) -> Any:
    return json.loads(request.body)


def connected(fake: FakeCustomerIO, closing: Closing, **settings: Any) -> CustomerIO:
    return closing(
        CustomerIO(site_id=fake.site_id, api_key=fake.api_key, base_url=fake.url, **settings)
    )


# -- v1 mapping ---------------------------------------------------------------------------------


def test_v1_identify_puts_flat_attributes_with_created_at_in_seconds() -> None:
    (request,) = captured("v1", [identify(anonymousId="anon-77")])
    assert (request.method, request.url) == (
        "PUT",
        "https://track.customer.io/api/v1/customers/user-0001",
    )
    assert body(request) == {
        "email": "ada@example.com",
        "plan": "pro",
        "created_at": 1704164645,
        "anonymous_id": "anon-77",  # Customer.io merges the anonymous profile on this
        "_timestamp": ACTION_SECONDS,  # the action time, which orders rapid updates
    }


def test_v1_identify_falls_back_to_email_and_escapes_the_path() -> None:
    requests = captured(
        "v1", [identify(user_id=None, traits={"email": "a b@x.io"}), identify("team/7 a")]
    )
    assert requests[0].url.endswith("/api/v1/customers/a%20b%40x.io")
    assert requests[1].url.endswith("/api/v1/customers/team%2F7%20a")


def test_v1_track_has_name_data_action_time_and_a_ulid_from_the_message_id() -> None:
    message = track()
    (request,) = captured("v1", [message])
    assert request.url == "https://track.customer.io/api/v1/customers/user-0001/events"
    sent = body(request)
    assert sent == {
        "name": "Project Created",
        "data": {"project_id": "p-1", "seats": 3},
        "timestamp": ACTION_SECONDS,
        "id": ulid_from(message["messageId"], parse_time(message["timestamp"], "")),
    }
    assert ULID.match(sent["id"])
    assert "_io_id" not in json.dumps(sent)


def test_v1_anonymous_events_go_to_the_events_endpoint() -> None:
    (request,) = captured("v1", [track(user_id=None, anonymousId="anon-77")])
    assert request.url == "https://track.customer.io/api/v1/events"
    assert body(request)["anonymous_id"] == "anon-77"


def test_v1_page_and_screen_are_typed_events() -> None:
    page_request, screen_request = captured("v1", [page(), screen()])
    assert body(page_request)["type"] == "page"
    assert body(page_request)["name"] == "https://example.com/pricing"  # the page address
    assert body(screen_request)["type"] == "screen"
    assert body(screen_request)["name"] == "Settings"


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_alias_of_the_messages_anonymous_id_identifies_with_it(mode: str) -> None:
    # previousId equal to the message's own anonymousId: a visitor, not a known person.
    (request,) = captured(mode, [alias(previous_id="anon-77", anonymousId="anon-77")])
    sent = body(request)
    if mode == "v1":
        assert (request.method, request.url) == (
            "PUT",
            "https://track.customer.io/api/v1/customers/user-0001",
        )
        assert sent == {"anonymous_id": "anon-77", "_timestamp": ACTION_SECONDS}
    else:
        assert sent["batch"] == [
            {
                "type": "person",
                "action": "identify",
                "identifiers": {"id": "user-0001"},
                "attributes": {"anonymous_id": "anon-77"},
                "timestamp": ACTION_SECONDS,
            }
        ]
    assert "merge" not in request.url + request.body.decode()


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_alias_of_another_id_merges_two_known_people(mode: str) -> None:
    # previousId differs from the message's anonymousId: it names a person who exists.
    (request,) = captured(mode, [alias(previous_id="old-0001", anonymousId="anon-77")])
    sent = body(request)
    merge = sent if mode == "v1" else sent["batch"][0]
    assert (merge["primary"], merge["secondary"]) == ({"id": "user-0001"}, {"id": "old-0001"})
    assert mode == "v2" or request.url.endswith("/api/v1/merge_customers")


def test_alias_to_the_same_id_is_dead_with_why() -> None:
    (outcome,) = CustomerIO(mode="v2", capture=True).deliver([alias(previous_id="user-0001")])
    assert outcome.kind == "dead" and "nothing to merge" in (outcome.error or "")


def test_v1_alias_merges_people() -> None:
    (request,) = captured("v1", [alias(previous_id="old@example.com")])
    assert request.url.endswith("/api/v1/merge_customers")
    assert body(request) == {
        "primary": {"id": "user-0001"},
        "secondary": {"email": "old@example.com"},
    }


def test_v1_has_no_groups() -> None:
    destination = CustomerIO(mode="v1", capture=True)
    assert destination.filter.types is not None and "group" not in destination.filter.types
    (outcome,) = destination.deliver([group()])
    assert outcome.kind == "dead" and "group" in (outcome.error or "")


def test_unidentifiable_messages_are_dead() -> None:
    destination = CustomerIO(mode="v1", capture=True)
    outcomes = destination.deliver(
        [identify(user_id=None, anonymousId="a", traits={"plan": "x"}), track(user_id=None)]
    )
    assert kinds(outcomes) == ["dead", "dead"]
    assert "id or email" in (outcomes[0].error or "")


# -- v2 mapping ---------------------------------------------------------------------------------


def test_v2_is_the_default_and_batches_operations() -> None:
    messages = [
        identify(anonymousId="anon-77"),
        track(),
        page(),
        screen(user_id="cio_abc"),
        alias(),
        group(),
    ]
    (request,) = captured("v2", messages)
    assert request.url == "https://track.customer.io/api/v2/batch"
    ops = body(request)["batch"]
    assert ops[0] == {
        "type": "person",
        "action": "identify",
        "identifiers": {"id": "user-0001"},
        "attributes": {
            "email": "ada@example.com",
            "plan": "pro",
            "created_at": 1704164645,
            "anonymous_id": "anon-77",
        },
        "timestamp": ACTION_SECONDS,  # schema identify_person: orders rapid attribute updates
    }
    assert ops[1]["action"] == "event" and ops[1]["attributes"] == {"project_id": "p-1", "seats": 3}
    assert ops[1]["timestamp"] == ACTION_SECONDS and ULID.match(ops[1]["id"])
    assert (ops[2]["action"], ops[3]["action"]) == ("page", "screen")
    assert ops[3]["identifiers"] == {"cio_id": "abc"}
    assert ops[4] == {
        "type": "person",
        "action": "merge",
        "primary": {"id": "user-0001"},
        "secondary": {"id": "old-0001"},
    }
    assert ops[5]["type"] == "object"
    assert ops[5]["identifiers"] == {"object_type_id": "1", "object_id": "acme-01"}
    assert ops[5]["cio_relationships"] == [{"identifiers": {"id": "user-0001"}}]


def test_v2_anonymous_events_use_the_documented_v1_endpoint_first() -> None:
    # The v2 reference gives a person's identifiers as id, email, phone or cio_id only.
    messages = [identify(anonymousId="anon-77"), track(user_id=None, anonymousId="anon-77")]
    anonymous, batch = captured("v2", messages)
    assert (anonymous.method, anonymous.url) == ("POST", "https://track.customer.io/api/v1/events")
    assert body(anonymous)["anonymous_id"] == "anon-77" and "identifiers" not in body(anonymous)
    assert batch.url.endswith("/api/v2/batch")
    assert [op["action"] for op in body(batch)["batch"]] == ["identify"]
    assert "anonymous_id" not in json.dumps([op["identifiers"] for op in body(batch)["batch"]])


def test_region_and_base_url() -> None:
    assert CustomerIO(region="eu", capture=True).base_url == "https://track-eu.customer.io"
    assert (
        CustomerIO(base_url="http://proxy.local:8080/", capture=True).base_url
        == "http://proxy.local:8080"
    )
    with pytest.raises(ValueError, match="region"):
        CustomerIO(region="apac")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        CustomerIO(mode="v3")  # type: ignore[arg-type]


def test_describe_names_settings_never_credentials() -> None:
    destination = CustomerIO(site_id="site-secret", api_key="key-secret", region="eu")
    described = destination.describe()
    assert described["capture"] is False and described["region"] == "eu"
    assert "secret" not in json.dumps(described)
    destination.close()


# -- limits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["v1", "v2"])
@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            identify(traits={f"t{i}": i for i in range(301)}),
            "the number of attributes is 301; the limit is 300",
        ),
        (
            identify(traits={"bio": "x" * 1001}),
            "the value of 'bio' is 1,001 bytes; the limit is 1,000",
        ),
        (identify(traits={"n" * 151: 1}), "is 151 bytes; the limit is 150"),
        (track(event="E" * 101), "the event name is 101 bytes; the limit is 100"),
        (track(properties={"blob": "x" * 100_001}), "the event data is 100,012 bytes"),
        (track(timestamp="not a time"), "timestamp"),
        (track(messageId=""), "messageId"),
        (track(user_id="u" * 151), "the person's identifier is 151 bytes; the limit is 150"),
        (identify("é" * 76), "the person's identifier is 152 bytes; the limit is 150"),
    ],
)
def test_oversize_messages_are_dead_with_a_reason(
    mode: str, message: dict[str, Any], reason: str
) -> None:
    destination = CustomerIO(mode=mode, capture=True)  # type: ignore[arg-type]
    ok, refused = destination.deliver([track(), message])
    assert ok.kind == "captured"  # recorded, never sent: not delivered
    assert refused.kind == "dead" and reason in (refused.error or "")


def test_v2_operations_over_32kb_are_dead_but_v1_sends_them() -> None:
    big = track(properties={"blob": "x" * 40_000})
    assert kinds(CustomerIO(mode="v2", capture=True).deliver([big])) == ["dead"]
    assert kinds(CustomerIO(mode="v1", capture=True).deliver([big])) == ["captured"]


def test_v2_batches_stay_under_500kb(customerio_fake: FakeCustomerIO, closing: Closing) -> None:
    destination = connected(customerio_fake, closing, batch_size=100)
    messages = [track(properties={"blob": "x" * 20_000}) for _ in range(60)]
    assert set(kinds(destination.deliver(messages))) == {"delivered"}
    assert len(customerio_fake.requests) == 3
    assert all(len(r.body) < 500_000 for r in customerio_fake.requests)
    assert len(customerio_fake.events) == 60


# -- against the fake -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_every_call_is_accepted_and_delivered_once(
    mode: str, customerio_fake: FakeCustomerIO, closing: Closing
) -> None:
    destination = connected(customerio_fake, closing, mode=mode)
    messages = [
        identify(anonymousId="anon-77"),
        track(),
        track(user_id=None, anonymousId="anon-77"),
        page(),
        screen(),
        alias(),
    ]
    assert set(kinds(destination.deliver(messages))) == {"delivered"}
    assert set(kinds(destination.deliver(messages))) == {"delivered"}  # a retry of the batch
    assert customerio_fake.people["user-0001"]["anonymous_id"] == "anon-77"
    assert len(customerio_fake.events) == 4  # once each, despite the retry
    assert customerio_fake.duplicates == 4
    assert customerio_fake.merges[0]["secondary"] == {"id": "old-0001"}


def test_v2_groups_become_objects(customerio_fake: FakeCustomerIO, closing: Closing) -> None:
    destination = connected(customerio_fake, closing)
    assert kinds(destination.deliver([group()])) == ["delivered"]
    assert customerio_fake.objects["1:acme-01"]["members"] == [{"id": "user-0001"}]


def test_v2_partial_failure_207_is_per_message(
    customerio_fake: FakeCustomerIO, closing: Closing
) -> None:
    destination = connected(customerio_fake, closing)
    bad = identify(traits={"created_at": "a while ago"})  # not a time: sent as is, refused
    outcomes = destination.deliver([track(), bad, track()])
    assert kinds(outcomes) == ["delivered", "dead", "delivered"]
    # The fake refuses it by the reference's schema: created_at is an integer.
    assert "attributes.created_at: 'a while ago' is not of type 'integer'" in (
        outcomes[1].error or ""
    )
    assert len(customerio_fake.events) == 2


def test_parse_maps_batch_index_through_the_request() -> None:
    destination = CustomerIO(capture=True)
    outgoing = Outgoing(HttpRequest("POST", "http://x/api/v2/batch", {}), (4, 7, 9))
    answer = {"errors": [{"batch_index": 2, "reason": "invalid", "message": "too long"}]}
    response = HttpResponse(207, {}, json.dumps(answer).encode())
    outcomes = destination.parse(response, outgoing, [])
    assert outcomes[4].kind == outcomes[7].kind == "delivered"
    assert outcomes[9].kind == "dead" and "too long" in (outcomes[9].error or "")


def test_v1_400_is_dead_with_customerio_words(
    customerio_fake: FakeCustomerIO, closing: Closing
) -> None:
    destination = connected(customerio_fake, closing, mode="v1")
    (outcome,) = destination.deliver([identify(traits={"created_at": "a while ago"})])
    assert outcome == outcome.__class__(
        "dead", "HTTP 400: created_at: 'a while ago' is not of type 'integer'"
    )


def test_bad_credentials_are_dead(customerio_fake: FakeCustomerIO, closing: Closing) -> None:
    destination = closing(
        CustomerIO(site_id="site-1", api_key="wrong", base_url=customerio_fake.url)
    )
    (outcome,) = destination.deliver([track()])
    assert outcome.kind == "dead" and "Unauthorized request" in (outcome.error or "")


def test_v2_413_splits_the_batch(customerio_fake: FakeCustomerIO, closing: Closing) -> None:
    destination = connected(customerio_fake, closing)
    customerio_fake.fail_next(status=413)
    assert set(kinds(destination.deliver([track() for _ in range(4)]))) == {"delivered"}
    assert len(customerio_fake.requests) == 3  # refused whole, then two halves
    assert len(customerio_fake.events) == 4


@pytest.mark.parametrize("mode", ["v1", "v2"])
@pytest.mark.parametrize("tie", ["identify", "alias"])
def test_pre_signup_page_views_land_on_the_person(
    mode: str, tie: str, customerio_fake: FakeCustomerIO, closing: Closing
) -> None:
    destination = connected(customerio_fake, closing, mode=mode)
    visits = [page(user_id=None, anonymousId="anon-77"), track(user_id=None, anonymousId="anon-77")]
    signup = (
        identify(anonymousId="anon-77")
        if tie == "identify"
        else alias(previous_id="anon-77", anonymousId="anon-77")
    )
    assert set(kinds(destination.deliver([*visits, signup]))) == {"delivered"}
    assert customerio_fake.merges == []  # no merge of a person who does not exist
    names = [event["name"] for event in customerio_fake.activity("user-0001")]
    assert names == ["https://example.com/pricing", "Project Created"]


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_identify_action_time_orders_updates_that_arrive_late(
    mode: str, customerio_fake: FakeCustomerIO, closing: Closing
) -> None:
    destination = connected(customerio_fake, closing, mode=mode)
    newer = identify(traits={"plan": "team"}, timestamp="2024-05-01T12:00:05Z")
    older = identify(traits={"plan": "free"}, timestamp="2024-05-01T12:00:01Z")
    assert (
        kinds(destination.deliver([newer])) == kinds(destination.deliver([older])) == ["delivered"]
    )
    assert customerio_fake.people["user-0001"]["plan"] == "team"
