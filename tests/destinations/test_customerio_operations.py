"""Operations to Customer.io as its own calls (v1 and v2), checked against the fake and the
official library; which other destinations take them."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from typing import Any

from customerio import CustomerIO as OfficialClient  # type: ignore[import-untyped]

from tests.destinations.helpers import kinds, wire
from tests.fakes import FakeCustomerIO, FakeSegment, TlsFiles
from trackwell.core.operations import (
    DEVICE_DELETED,
    DEVICE_UPDATED,
    OBJECT_DELETED,
    OBJECT_OPERATIONS,
    OPERATIONS,
    RELATIONSHIP_DELETED,
    USER_DELETED,
    USER_SUPPRESSED,
    USER_UNSUPPRESSED,
    cio_external_id,
)
from trackwell.destinations import (
    Amplitude,
    CaptureTransport,
    CustomerIO,
    HttpxTransport,
    Mixpanel,
    SegmentCompatible,
)
from trackwell.store import DeliveryFilter

TOKEN = "fcm:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


def operation(event: str, user_id: str | None = "user-0001", **fields: Any) -> dict[str, Any]:
    fields.setdefault("properties", {})
    return wire("track", event=event, **({"userId": user_id} if user_id else {}), **fields)


def device_added(user_id: str = "user-0001") -> dict[str, Any]:
    return operation(
        DEVICE_UPDATED,
        user_id,
        context={"device": {"token": TOKEN, "type": "android"}},
        properties={"last_used": 1714564000, "app_version": "2.1", "push_enabled": True},
    )


def device_deleted(user_id: str = "user-0001") -> dict[str, Any]:
    return operation(DEVICE_DELETED, user_id, context={"device": {"token": TOKEN}})


def relationship_deleted() -> dict[str, Any]:
    return operation(RELATIONSHIP_DELETED, properties={"objectId": "acme", "objectTypeId": "2"})


def object_deleted() -> dict[str, Any]:
    return operation(
        OBJECT_DELETED, None, anonymousId="cio_object:2:acme", properties={"objectId": "acme"}
    )


Closing = Callable[[Any], Any]


def customerio(fake: FakeCustomerIO, mode: str, closing: Closing) -> CustomerIO:
    destination = CustomerIO(
        site_id=fake.site_id,
        api_key=fake.api_key,
        base_url=fake.url,
        mode=mode,  # type: ignore[arg-type]
    )
    closed: CustomerIO = closing(destination)
    return closed


def test_v1_sends_customerio_own_calls(customerio_fake: FakeCustomerIO, closing: Closing) -> None:
    fake = customerio_fake
    fake.people["user-0001"] = {"email": "ada@example.com"}
    messages = [
        device_added(),
        operation(USER_SUPPRESSED),
        operation(USER_UNSUPPRESSED),
        device_deleted("user-0002"),
        operation(USER_DELETED, "ada@example.com"),
        operation(USER_DELETED, None, context={"externalIds": [cio_external_id("a1b2")]}),
    ]
    assert kinds(customerio(fake, "v1", closing).deliver(messages)) == ["delivered"] * 6
    calls = [(r.method, r.path, r.body) for r in fake.requests]
    assert calls[1:] == [
        ("POST", "/api/v1/customers/user-0001/suppress", b""),
        ("POST", "/api/v1/customers/user-0001/unsuppress", b""),
        ("DELETE", f"/api/v1/customers/user-0002/devices/{TOKEN.replace(':', '%3A')}", b""),
        ("DELETE", "/api/v1/customers/ada%40example.com", b""),
        ("DELETE", "/api/v1/customers/cio_a1b2", b""),
    ]
    put = fake.requests[0]
    assert (put.method, put.path) == ("PUT", "/api/v1/customers/user-0001/devices")
    assert put.json() == {
        "device": {
            "id": TOKEN,
            "platform": "android",
            "last_used": 1714564000,
            "attributes": {"app_version": "2.1", "push_enabled": "true"},
        }
    }
    assert fake.deleted == ["user-0001", "ada@example.com", "cio_a1b2"]
    assert fake.suppressed == set() and "user-0001" not in fake.people


def test_v2_sends_person_and_object_actions(
    customerio_fake: FakeCustomerIO, closing: Closing
) -> None:
    fake = customerio_fake
    messages = [
        device_added(),
        operation(USER_SUPPRESSED, "u-2"),
        relationship_deleted(),
        object_deleted(),
        operation(USER_DELETED, None, context={"externalIds": [cio_external_id("a1b2")]}),
    ]
    outcomes = customerio(fake, "v2", closing).deliver(messages)
    assert kinds(outcomes) == ["delivered"] * 5, outcomes
    batch = fake.requests[-1].json()["batch"]
    assert batch == [
        {"type": "person", "identifiers": {"id": "user-0001"}, "action": "add_device",
         "device": {"token": TOKEN, "platform": "android", "last_used": 1714564000,
                    "attributes": {"app_version": "2.1", "push_enabled": "true"}}},
        {"type": "person", "identifiers": {"id": "u-2"}, "action": "suppress"},
        {"type": "person", "identifiers": {"id": "user-0001"}, "action": "delete_relationships",
         "cio_relationships": [{"identifiers": {"object_type_id": "2", "object_id": "acme"}}]},
        {"type": "object", "action": "delete",
         "identifiers": {"object_type_id": "1", "object_id": "acme"}},
        {"type": "person", "identifiers": {"cio_id": "a1b2"}, "action": "delete"},
    ]  # fmt: skip
    assert fake.devices["user-0001"][TOKEN]["platform"] == "android"
    assert fake.suppressed == {"u-2"} and fake.deleted == ["u-2", "cio_a1b2"]
    assert fake.objects_deleted and fake.relationships_deleted
    assert kinds(customerio(fake, "v2", closing).deliver([device_deleted()])) == ["delivered"]
    assert fake.devices["user-0001"] == {}


def test_what_customerio_cannot_do_is_dead_with_the_reason() -> None:
    capture = CaptureTransport()
    cio = CustomerIO(mode="v2", transport=capture)
    no_platform = operation(DEVICE_UPDATED, context={"device": {"token": TOKEN}})
    anonymous = operation(USER_DELETED, None, anonymousId="anon-1")
    outcomes = cio.deliver([no_platform, anonymous])
    assert kinds(outcomes) == ["dead", "dead"]
    assert "platform" in (outcomes[0].error or "")
    assert "anonymous" in (outcomes[1].error or "")
    assert capture.requests == []


def test_each_destination_takes_only_the_operations_it_performs() -> None:
    capture = CaptureTransport()
    v1 = CustomerIO(mode="v1", transport=capture)
    v2 = CustomerIO(mode="v2", transport=capture)
    assert v1.filter.exclude_events == OBJECT_OPERATIONS
    assert not v2.filter.exclude_events
    # Real Segment would take `User Deleted` as an event and delete nobody: not for it, unless
    # the endpoint is Customer.io Data Pipelines (which performs them) or it is asked for.
    assert SegmentCompatible(transport=capture).filter.exclude_events == OPERATIONS
    pipelines = SegmentCompatible(transport=capture, base_url="https://cdp-eu.customer.io")
    assert not pipelines.filter.exclude_events
    assert not SegmentCompatible(transport=capture, operations=True).filter.exclude_events
    assert (
        SegmentCompatible(
            transport=capture, base_url="https://cdp.customer.io", operations=False
        ).filter.exclude_events
        == OPERATIONS
    )
    for tool in (Mixpanel(transport=capture), Amplitude(transport=capture)):
        assert tool.filter.exclude_events == OPERATIONS  # no equivalent: never "delivered"
        assert not tool.filter.accepts("track", USER_DELETED)
        assert tool.filter.accepts("track", "Project Created")
        # Handed one anyway (a backfill does not go through the queue): dead, with the reason.
        [outcome] = tool.deliver([operation(USER_DELETED)])
        assert outcome.kind == "dead" and "cannot perform 'User Deleted'" in (outcome.error or "")
    [outcome] = v1.deliver([relationship_deleted()])
    assert outcome.kind == "dead" and "Relationship Deleted" in (outcome.error or "")


def test_a_segment_compatible_endpoint_gets_the_semantic_events_intact(
    segment_fake: FakeSegment, closing: Closing
) -> None:
    segment: SegmentCompatible = closing(
        SegmentCompatible(
            write_key=segment_fake.write_key, base_url=segment_fake.url, operations=True
        )
    )
    assert kinds(segment.deliver([device_added(), operation(USER_DELETED)])) == ["delivered"] * 2
    sent = [m for r in segment_fake.requests for m in json.loads(r.body)["batch"]]
    assert [m["event"] for m in sent] == [DEVICE_UPDATED, USER_DELETED]
    assert sent[0]["context"]["device"]["token"] == TOKEN


def test_v1_calls_match_the_official_library(
    official: OfficialClient, customerio_tls_fake: FakeCustomerIO, tls_files: TlsFiles
) -> None:
    fake = customerio_tls_fake
    official.suppress("user-0001")
    official.unsuppress("user-0001")
    official.delete("user-0001")
    official.delete_device("user-0001", TOKEN)
    official.add_device("user-0001", TOKEN, "android", last_used=1714564000)
    theirs = fake.requests[:]
    transport = HttpxTransport(verify=ssl.create_default_context(cafile=str(tls_files.cert)))
    ours = CustomerIO(
        site_id=fake.site_id,
        api_key=fake.api_key,
        base_url=fake.url,
        mode="v1",
        transport=transport,
    )
    messages = [
        operation(USER_SUPPRESSED),
        operation(USER_UNSUPPRESSED),
        operation(USER_DELETED),
        device_deleted(),
        operation(
            DEVICE_UPDATED,
            context={"device": {"token": TOKEN, "type": "android"}},
            properties={"last_used": 1714564000},
        ),
    ]
    try:
        assert kinds(ours.deliver(messages)) == ["delivered"] * 5
    finally:
        transport.close()
    mine = fake.requests[len(theirs) :]
    for their, my in zip(theirs, mine, strict=True):
        assert (my.method, my.path) == (their.method, their.path)
        assert my.headers["authorization"] == their.headers["authorization"]
    # The library sends `{}` where the reference has no body; trackwell sends none.
    assert [t.json() for t in theirs[:4]] == [{}] * 4 and all(m.body == b"" for m in mine[:4])
    assert mine[4].json() == theirs[4].json()
    assert fake.devices["user-0001"][TOKEN]["id"] == TOKEN


def test_an_events_list_never_drops_the_operations_the_tool_performs() -> None:
    # `events = [...]` picks plan events to send; a delete through the same destination must
    # still be queued, or the client's 200 would hide a person never deleted.
    chosen = DeliveryFilter(events=frozenset({"Account Created"}))
    cio = CustomerIO(api="v2", capture=True, filter=chosen)
    assert cio.filter.accepts("track", USER_DELETED)
    assert cio.filter.accepts("track", "Account Created")
    assert not cio.filter.accepts("track", "Feature Used")
    mixpanel = Mixpanel(capture=True, filter=chosen)
    assert not mixpanel.filter.accepts("track", USER_DELETED)
