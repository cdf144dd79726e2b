"""The official `customerio` library and trackwell, against the same fake Customer.io over TLS.

The fake must accept the library's requests (so it speaks the real API), and trackwell's requests
for the same calls must equal the library's: same method, path, auth, and JSON body. If trackwell's
wire format drifts from Customer.io's own client, this fails."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from customerio import CustomerIO as OfficialClient
from customerio.constants import ID

from tests.destinations.helpers import alias, identify, kinds, page, track
from tests.fakes import FakeCustomerIO, Received, TlsFiles
from trackwell.destinations import CaptureTransport, CustomerIO, HttpxTransport
from trackwell.destinations.common import ulid_from

CREATED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
ACTION = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
PROPERTIES = {"project_id": "p-1", "seats": 3}


@pytest.fixture
def ours(
    customerio_tls_fake: FakeCustomerIO, tls_files: TlsFiles
) -> Iterator[Callable[..., CustomerIO]]:
    """trackwell's CustomerIO over TLS to the same fake (mode chosen per test)."""
    transport = HttpxTransport(verify=ssl.create_default_context(cafile=str(tls_files.cert)))

    def make(mode: str = "v1") -> CustomerIO:
        return CustomerIO(
            site_id=customerio_tls_fake.site_id,
            api_key=customerio_tls_fake.api_key,
            base_url=customerio_tls_fake.url,
            mode=mode,  # type: ignore[arg-type]
            transport=transport,
        )

    yield make
    transport.close()


def last(fake: FakeCustomerIO) -> Received:
    return fake.requests[-1]


def same_call(theirs: Received, mine: Received) -> None:
    """Same method, path, credentials, content type and JSON body."""
    assert (mine.method, mine.path) == (theirs.method, theirs.path)
    assert mine.headers["authorization"] == theirs.headers["authorization"]
    assert mine.headers["content-type"] == theirs.headers["content-type"] == "application/json"
    assert mine.json() == theirs.json()


def shape(value: Any) -> Any:
    """Keys and value types, recursively."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def test_identify(
    official: OfficialClient, ours: Callable[..., CustomerIO], customerio_tls_fake: FakeCustomerIO
) -> None:
    official.identify(
        id="user-0001",
        email="ada@example.com",
        plan="pro",
        created_at=CREATED,
        anonymous_id="anon-77",
        _timestamp=ACTION,  # the reference's field for ordering rapid updates
    )
    theirs = last(customerio_tls_fake)
    assert kinds(ours().deliver([identify(anonymousId="anon-77")])) == ["delivered"]
    same_call(theirs, last(customerio_tls_fake))
    assert customerio_tls_fake.people["user-0001"]["created_at"] == int(CREATED.timestamp())


def test_track_with_dedup_id_and_action_time(
    official: OfficialClient, ours: Callable[..., CustomerIO], customerio_tls_fake: FakeCustomerIO
) -> None:
    message = track(timestamp="2024-05-01T12:00:00.250Z")
    event_id = ulid_from(message["messageId"], ACTION)
    official.track(
        customer_id="user-0001",
        name="Project Created",
        data=PROPERTIES,
        id=event_id,
        timestamp=ACTION,
    )
    theirs = last(customerio_tls_fake)
    assert kinds(ours().deliver([message])) == ["delivered"]
    same_call(theirs, last(customerio_tls_fake))
    assert len(customerio_tls_fake.events) == 1  # the same ULID: Customer.io keeps one


def test_anonymous_track(
    official: OfficialClient, ours: Callable[..., CustomerIO], customerio_tls_fake: FakeCustomerIO
) -> None:
    message = track(user_id=None, anonymousId="anon-77")
    event_id = ulid_from(message["messageId"], ACTION)
    official.track_anonymous(
        anonymous_id="anon-77",
        name="Project Created",
        data=PROPERTIES,
        id=event_id,
        timestamp=ACTION,
    )
    theirs = last(customerio_tls_fake)
    assert kinds(ours().deliver([message])) == ["delivered"]
    same_call(theirs, last(customerio_tls_fake))


def test_page_view(
    official: OfficialClient, ours: Callable[..., CustomerIO], customerio_tls_fake: FakeCustomerIO
) -> None:
    official.pageview(
        "user-0001",
        "https://example.com/pricing",
        url="https://example.com/pricing",
        title="Pricing",
    )
    theirs = last(customerio_tls_fake)
    assert kinds(ours().deliver([page()])) == ["delivered"]
    mine = last(customerio_tls_fake)
    assert (mine.method, mine.path) == (theirs.method, theirs.path)
    # The library's pageview has no action time or de-duplication id; trackwell adds both.
    extra = shape(mine.json())
    assert {k: extra.pop(k) for k in ("timestamp", "id")} == {"timestamp": "int", "id": "str"}
    assert extra == shape(theirs.json())
    assert {k: mine.json()[k] for k in theirs.json()} == theirs.json()


def test_merge(
    official: OfficialClient, ours: Callable[..., CustomerIO], customerio_tls_fake: FakeCustomerIO
) -> None:
    official.merge_customers(ID, "user-0001", ID, "old-0001")
    theirs = last(customerio_tls_fake)
    assert kinds(ours().deliver([alias()])) == ["delivered"]
    same_call(theirs, last(customerio_tls_fake))
    assert len(customerio_tls_fake.merges) == 2


def test_v2_batch_through_the_library_is_accepted(
    official: OfficialClient, ours: Callable[..., CustomerIO], customerio_tls_fake: FakeCustomerIO
) -> None:
    # Anonymous events have no documented v2 form and go through v1 (see the other tests).
    messages = [identify(anonymousId="anon-77"), track(), page(), alias()]
    capture = CaptureTransport()
    CustomerIO(mode="v2", transport=capture).deliver(messages)
    (built,) = capture.requests
    operations = json.loads(built.body)["batch"]
    response = official.batch(operations)  # the library sends our operations as they are
    assert response.status_code == 200  # not 207: the fake found no operation to refuse
    theirs = last(customerio_tls_fake)
    assert len(customerio_tls_fake.events) == 2
    assert set(kinds(ours("v2").deliver(messages))) == {"delivered"}
    same_call(theirs, last(customerio_tls_fake))
    assert len(customerio_tls_fake.events) == 2  # de-duplicated by the derived ULIDs
