"""The fakes refuse what the providers' references do not allow, so a wrong field fails a test.

Each fake is fed hand-written requests with one thing wrong (an unknown or misspelt field, a
missing required one, a wrong type, an identifier of an undocumented kind) and must refuse it
in the provider's own answer format; the reference's own examples must pass."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes import FakeAmplitude, FakeCustomerIO, FakeMixpanel, FakeSegment, Received
from tests.fakes.customerio import check_v1_shape
from tests.fakes.schema import SCHEMAS, definitions, violation

ULID = "01HZX3K4J5M6N7P8Q9R0S1T2V3"


def send(
    fake: Any, path: str, body: Any, *, method: str = "POST", auth: tuple[str, str] | None = None
) -> httpx.Response:
    """One raw JSON request to a fake."""
    return httpx.request(method, fake.url + path, json=body, auth=auth, timeout=5)


# -- Customer.io v1 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("PUT", "/api/v1/customers/u1", {"created_at": "yesterday"}, "created_at"),
        ("PUT", "/api/v1/customers/u1", {"_timestamp": 1.5}, "_timestamp"),
        ("PUT", "/api/v1/customers/u1", {"anonymous_id": 7}, "anonymous_id"),
        ("POST", "/api/v1/customers/u1/events", {"nmae": "Signed Up"}, "name: is required"),
        ("POST", "/api/v1/customers/u1/events", {"name": "x", "properties": {}}, "properties"),
        ("POST", "/api/v1/customers/u1/events", {"name": "x", "type": "track"}, "type"),
        ("POST", "/api/v1/customers/u1/events", {"name": "x", "id": "not-a-ulid"}, "id"),
        ("POST", "/api/v1/customers/u1/events", {"name": "x", "timestamp": "now"}, "timestamp"),
        (
            "POST",
            "/api/v1/events",
            {"name": "x", "identifiers": {"anonymous_id": "a1"}},
            "identifiers",
        ),
        (
            "POST",
            "/api/v1/merge_customers",
            {"primary": {"id": "u1"}, "secondary": {"anonymous_id": "a1"}},
            "secondary",
        ),
        (
            "POST",
            "/api/v1/merge_customers",
            {"primary": {"id": "u1", "email": "u@x.io"}, "secondary": {"id": "u2"}},
            "primary",
        ),
        ("POST", "/api/v1/merge_customers", {"primary": {"id": "u1"}}, "secondary: is required"),
        ("PUT", "/api/v1/customers/u1/devices", {"device": {"id": "tok"}}, "platform"),
        (
            "PUT",
            "/api/v1/customers/u1/devices",
            {"device": {"id": "tok", "platform": "web"}},
            "platform",
        ),
        ("POST", "/api/v1/customers/u1/suppress", {"reason": "spam"}, "reason"),
        ("DELETE", "/api/v1/customers/u1", {"hard": True}, "hard"),
    ],
)
def test_customerio_v1_refuses_undocumented_shapes(
    customerio_fake: FakeCustomerIO, method: str, path: str, body: Any, words: str
) -> None:
    auth = (customerio_fake.site_id, customerio_fake.api_key)
    response = send(customerio_fake, path, body, method=method, auth=auth)
    assert response.status_code == 400
    assert words in response.json()["meta"]["error"]
    assert customerio_fake.people == {} and customerio_fake.events == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/api/v1/customers/u1", b""),
        ("DELETE", "/api/v1/customers/u1/devices/tok-1", b"{}"),
        ("POST", "/api/v1/customers/u1/suppress", b""),
        ("POST", "/api/v1/customers/u1/unsuppress", b"{}"),
        ("PUT", "/api/v1/customers/u1/devices", b'{"device":{"id":"tok","platform":"ios"}}'),
    ],
)
def test_customerio_v1_documented_bodyless_and_device_calls_fit(
    method: str, path: str, body: bytes
) -> None:
    assert check_v1_shape(Received(method, path, {}, {}, body)) is None


def v2(fake: FakeCustomerIO, *operations: dict[str, Any]) -> httpx.Response:
    return send(
        fake, "/api/v2/batch", {"batch": list(operations)}, auth=(fake.site_id, fake.api_key)
    )


PERSON = {"type": "person", "identifiers": {"id": "u1"}}


@pytest.mark.parametrize(
    ("operation", "field"),
    [
        # The reference lists id, email, phone and cio_id only: no anonymous person events.
        ({**PERSON, "action": "event", "name": "x", "identifiers": {"anonymous_id": "a1"}}, "identifiers"),
        ({**PERSON, "action": "event", "name": "x", "identifiers": {"id": "u1", "email": "u@x.io"}}, "identifiers"),
        ({**PERSON, "action": "event", "name": "x", "identifiers": {"phone": "555-1234"}}, "identifiers.phone"),
        ({**PERSON, "action": "event", "name": "x", "data": {}}, ""),
        ({**PERSON, "action": "event"}, "name"),
        ({**PERSON, "action": "page", "name": "/", "timestamp": "2024-05-01"}, "timestamp"),
        ({**PERSON, "action": "identify", "timestamp": 1.5}, "timestamp"),
        ({**PERSON, "action": "identify", "attributes": {"created_at": "soon"}}, "attributes.created_at"),
        ({**PERSON, "action": "identify", "_timestamp": 1714564800}, ""),
        ({**PERSON, "action": "track", "name": "x"}, "action"),
        ({**PERSON, "action": "merge", "primary": {"id": "u1"}, "secondary": {"id": "u2"}}, ""),
        ({"type": "person", "action": "merge", "primary": {"id": "u1"}, "secondary": {"anonymous_id": "a"}}, "secondary"),
        ({**PERSON, "action": "delete", "attributes": {}}, ""),
        ({**PERSON, "action": "add_device", "device": {"platform": "ios"}}, "device.token"),
        ({**PERSON, "action": "add_device", "device": {"token": "t", "platform": "ios", "attributes": {"n": 1}}}, "device.attributes.n"),
        ({**PERSON, "action": "delete_device", "device": {"token": "t", "platform": "ios"}}, "device"),
        ({"type": "object", "action": "identify", "identifiers": {"object_id": "acme"}}, "identifiers"),
        (
            {
                "type": "object",
                "action": "identify_anonymous",
                "identifiers": {"object_type_id": "1", "object_id": "acme"},
                "cio_relationships": [{"identifiers": {"id": "u1"}}],
            },
            "cio_relationships.0.identifiers",
        ),
    ],
)  # fmt: skip
def test_customerio_v2_refuses_undocumented_operations(
    customerio_fake: FakeCustomerIO, operation: dict[str, Any], field: str
) -> None:
    good = {**PERSON, "action": "event", "name": "fine", "id": ULID}
    response = v2(customerio_fake, good, operation)
    assert response.status_code == 207
    (error,) = response.json()["errors"]
    assert error["batch_index"] == 1
    assert error["field"].startswith(field), error
    assert [event["name"] for event in customerio_fake.events] == ["fine"]


def test_customerio_v2_refuses_a_malformed_batch(customerio_fake: FakeCustomerIO) -> None:
    auth = (customerio_fake.site_id, customerio_fake.api_key)
    bodies: list[dict[str, Any]] = [
        {"batch": []},
        {"operations": [PERSON]},
        {"batch": [PERSON], "extra": 1},
    ]
    for body in bodies:
        assert send(customerio_fake, "/api/v2/batch", body, auth=auth).status_code == 400


# Examples printed in Customer.io's Track API reference; the schemas must accept them.
REFERENCE_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("person_identify", {**PERSON, "action": "identify", "attributes": {"first_name": "Jane", "plan": "premium"}}),
    ("person_identify", {**PERSON, "action": "identify", "timestamp": 1772013598}),
    ("person_event", {**PERSON, "action": "event", "name": "purchase", "attributes": {"price": 29.99}}),
    ("person_event", {**PERSON, "action": "page", "name": "/pricing", "attributes": {"referrer": "https://example.com"}}),
    ("person_event", {"type": "person", "identifiers": {"phone": "+14155552671"}, "action": "screen", "name": "home"}),
    ("person_merge", {"type": "person", "action": "merge", "primary": {"id": "42"}, "secondary": {"id": "known-user-456"}}),
    ("person_delete", {**PERSON, "action": "delete"}),
    ("person_delete", {"type": "person", "identifiers": {"email": "u@x.io"}, "action": "suppress"}),
    ("person_delete", {"type": "person", "identifiers": {"cio_id": "a3000001"}, "action": "unsuppress"}),
    ("person_add_device", {**PERSON, "action": "add_device", "device": {"token": "abc", "platform": "ios", "last_used": 1714564800, "attributes": {"app_version": "1.2"}}}),
    ("person_delete_device", {**PERSON, "action": "delete_device", "device": {"token": "abc"}}),
    ("person_relationships_change", {**PERSON, "action": "add_relationships", "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}, "relationship_attributes": {"role": "admin"}}]}),
    ("object_identify", {"type": "object", "identifiers": {"object_type_id": "1", "object_id": "acme"}, "action": "identify", "attributes": {"name": "Acme Corp", "seats": 50}}),
    ("object_identify_anonymous", {"type": "object", "identifiers": {"object_type_id": "1", "object_id": "acme"}, "action": "identify_anonymous", "anonymous_id": "anon-abc-123"}),
    ("object_relationships_change", {"type": "object", "identifiers": {"object_type_id": "1", "object_id": "acme"}, "action": "add_relationships", "cio_relationships": [{"identifiers": {"id": "42"}, "relationship_attributes": {"role": "admin"}}]}),
    ("object_delete", {"type": "object", "identifiers": {"cio_object_id": "ob1"}, "action": "delete"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "example"), REFERENCE_EXAMPLES)
def test_customerio_reference_examples_fit(name: str, example: dict[str, Any]) -> None:
    assert violation("customerio-track-v2", name, example) is None


def test_customerio_v1_reference_examples_fit() -> None:
    identify = {
        "email": "customer@example.com",
        "created_at": 1361205308,
        "first_name": "Bob",
        "cio_relationships": {
            "action": "add_relationships",
            "relationships": [
                {
                    "identifiers": {
                        "object_type_id": "1",
                        "object_id": "01H5Q5SZVQDJ71SBME2SMDXS88",
                    },
                    "relationship_attributes": {"role": "admin"},
                }
            ],
        },
        "cio_subscription_preferences": {"topics": {"topic_1": True}},
    }
    assert violation("customerio-track-v1", "identify", identify) is None
    anonymous = {"name": "watched_video", "anonymous_id": "abc123", "data": {"video": "intro"}}
    assert violation("customerio-track-v1", "anonymous_event", anonymous) is None


def test_every_schema_definition_is_a_valid_schema() -> None:
    apis = sorted(path.stem for path in SCHEMAS.glob("*.json"))
    assert len(apis) >= 9  # the tracking APIs, and the privacy APIs beside them
    for api in apis:
        for name in definitions(api):
            violation(api, name, {})  # compiles and checks the definition


# -- Mixpanel ---------------------------------------------------------------------------------


def mixpanel_event(**properties: Any) -> dict[str, Any]:
    base = {"time": 1714564800250, "distinct_id": "u1", "$insert_id": "abc-1"}
    return {"event": "Signed Up", "properties": {**base, **properties}}


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({**mixpanel_event(), "distinct_id": "u1"}, ""),
        (mixpanel_event(time="2024-05-01T12:00:00Z"), "properties.time"),
        ({"event": "x", "properties": {"time": 1714564800, "distinct_id": "u1"}}, "properties.$insert_id"),
        (mixpanel_event(**{"$insert_id": "has spaces"}), "properties.$insert_id"),
        ({"properties": mixpanel_event()["properties"]}, "event"),
    ],
)  # fmt: skip
def test_mixpanel_import_names_undocumented_events(
    mixpanel_fake: FakeMixpanel, event: dict[str, Any], field: str
) -> None:
    auth = (mixpanel_fake.api_secret, "")
    response = send(mixpanel_fake, "/import?strict=1", [mixpanel_event(), event], auth=auth)
    assert response.status_code == 400
    (failed,) = response.json()["failed_records"]
    assert (failed["index"], failed["field"]) == (1, field)
    assert len(mixpanel_fake.events) == 1


@pytest.mark.parametrize(
    "update",
    [
        {"$distinct_id": "u1", "$set": {"a": 1}, "$set_once": {"b": 2}},
        {"$distinct_id": "u1"},
        {"$distinct_id": "u1", "$set": {"a": 1}, "$email": "u@x.io"},
        {"$distinct_id": "u1", "$unset": "a"},
        {"$distinct_id": "u1", "$add": {"logins": "one"}},
        {"$distinct_id": 7, "$set": {"a": 1}},
    ],
)
def test_mixpanel_engage_refuses_undocumented_updates(
    mixpanel_fake: FakeMixpanel, update: dict[str, Any]
) -> None:
    body = [{"$token": mixpanel_fake.project_token, **update}]
    response = send(mixpanel_fake, "/engage?verbose=1", body)
    assert response.status_code == 400 and response.json()["status"] == 0
    assert mixpanel_fake.profiles == {}


# -- Amplitude --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "listed", "field"),
    [
        ({"event_type": "x"}, "events_with_missing_fields", "user_id"),
        ({"event_type": "x", "userId": "user-0001"}, "events_with_invalid_fields", "event"),
        ({"event_type": "x", "user_id": "user-0001", "eventProperties": {}}, "events_with_invalid_fields", "event"),
        ({"event_type": "x", "user_id": "user-0001", "time": "2024-05-01"}, "events_with_invalid_fields", "time"),
        ({"event_type": "x", "user_id": "user-0001", "insert_id": 42}, "events_with_invalid_fields", "insert_id"),
        ({"user_id": "user-0001"}, "events_with_missing_fields", "event_type"),
    ],
)  # fmt: skip
def test_amplitude_names_undocumented_events(
    amplitude_fake: FakeAmplitude, event: dict[str, Any], listed: str, field: str
) -> None:
    good = {"event_type": "fine", "user_id": "user-0001", "insert_id": "i-1"}
    body = {"api_key": amplitude_fake.api_key, "events": [good, event]}
    response = send(amplitude_fake, "/2/httpapi", body)
    assert response.status_code == 400
    assert response.json()[listed][field] == [1]
    assert amplitude_fake.events == []


def test_amplitude_refuses_undocumented_options(amplitude_fake: FakeAmplitude) -> None:
    event = {"event_type": "x", "user_id": "user-0001"}
    body = {"api_key": amplitude_fake.api_key, "events": [event], "options": {"minIdLength": 3}}
    response = send(amplitude_fake, "/2/httpapi", body)
    assert response.status_code == 400 and "minIdLength" in response.json()["error"]


# -- Segment ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"batch": [{"type": "track", "userId": "u1", "event": "x"}], "messages": []}, "messages"),
        ({"batch": [{"type": "track", "userId": "u1", "event": "x", "timestamp": "yesterday"}]}, "timestamp"),
        ({"batch": [{"type": "track", "userId": "u1"}]}, "event"),
        ({"batch": [{"type": "alias", "userId": "u1"}]}, "previousId"),
        ({"batch": [{"type": "identify", "userId": 42}]}, "userId"),
        ({"batch": [{"type": "group", "userId": "u1"}]}, "groupId"),
    ],
)  # fmt: skip
def test_segment_strict_mode_refuses_undocumented_shapes(
    segment_fake: FakeSegment, body: dict[str, Any], words: str
) -> None:
    response = httpx.post(
        segment_fake.url + "/v1/batch",
        json=body,
        auth=(segment_fake.write_key, ""),
        headers={"x-strict-mode": "1"},
        timeout=5,
    )
    assert response.status_code == 400 and words in response.json()["message"]
    assert segment_fake.messages == []


def test_customerio_refuses_person_ids_over_150_bytes(customerio_fake: FakeCustomerIO) -> None:
    auth = (customerio_fake.site_id, customerio_fake.api_key)
    long_id = "u" * 151
    response = send(
        customerio_fake, f"/api/v1/customers/{long_id}", {"plan": "pro"}, method="PUT", auth=auth
    )
    assert response.status_code == 400 and "150 bytes" in response.json()["meta"]["error"]
    operation = {"type": "person", "identifiers": {"id": long_id}, "action": "event", "name": "x"}
    (error,) = v2(customerio_fake, operation).json()["errors"]
    assert "150 bytes" in error["message"]
