"""Every privacy request trackwell builds fits the provider's documented shape.

Built in capture mode (nothing sent) for every destination, mode and request kind, and checked
against the schemas the fakes use (`tests/fakes/schemas`); Customer.io's also against what its
official Python library sends for the same calls."""

from __future__ import annotations

import json
import ssl
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from customerio import CustomerIO as OfficialClient  # type: ignore[import-untyped]

from tests.destinations.test_conformance import received
from tests.fakes import (
    FakeAmplitude,
    FakeCustomerIO,
    FakeMixpanel,
    FakeSegment,
    FakeWebhook,
    TlsFiles,
)
from tests.fakes.customerio import V2, V2_SHAPES, check_v1_shape
from tests.fakes.schema import violation
from trackwell.core.privacy import REQUEST_KINDS, RequestKind, Subject
from trackwell.core.signing import signature_headers
from trackwell.destinations import (
    Amplitude,
    CaptureTransport,
    CustomerIO,
    HttpRequest,
    HttpxTransport,
    Mixpanel,
    SegmentCompatible,
    Webhook,
)
from trackwell.destinations.common import HttpDestination

PEOPLE = [
    Subject(user_ids=("user-0001",), anonymous_ids=("anon-77",), emails=("ada@example.com",)),
    Subject(user_ids=("user-0001", "cio_a3000001", "ada@example.com")),
    Subject(anonymous_ids=("anon-77",), emails=("ada@example.com",)),
    Subject(user_ids=tuple(f"user-{i:04d}" for i in range(250))),  # more than one call's worth
]


def captured(destination: HttpDestination) -> list[HttpRequest]:
    """Every request of every kind, for every person, as the destination would send them."""
    transport = CaptureTransport()
    destination.transport = transport
    for kind in REQUEST_KINDS:
        for person in PEOPLE:
            answer = destination.privacy(kind, person, request_id="req-1")
            assert answer.status in ("captured", "not_supported"), answer
    return transport.requests


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_customerio_privacy_requests_fit_the_track_api_reference(api: str) -> None:
    requests = captured(CustomerIO(api=api, capture=True))  # type: ignore[arg-type]
    assert requests
    for request in requests:
        path = urlsplit(request.url).path
        if api == "v2":
            assert path == "/api/v2/batch"
            body = json.loads(request.body)
            assert violation(V2, "batch", body) is None
            for operation in body["batch"]:
                assert operation["action"] in ("delete", "suppress", "unsuppress")
                assert violation(V2, V2_SHAPES[("person", operation["action"])], operation) is None
        else:
            assert request.method in ("DELETE", "POST") and request.body == b""
            assert path.startswith("/api/v1/customers/")
            assert check_v1_shape(received(request)) is None, path


def test_mixpanel_privacy_requests_fit_the_ingestion_and_gdpr_references() -> None:
    requests = captured(Mixpanel(project_token="t", api_secret="s", gdpr_token="g", capture=True))
    paths = {urlsplit(r.url).path for r in requests}
    assert paths == {"/engage", "/api/app/data-deletions/v3.0/"}
    for request in requests:
        body = json.loads(request.body)
        if urlsplit(request.url).path == "/engage":
            assert violation("mixpanel-ingestion", "engage", body) is None
            for update in body:
                assert violation("mixpanel-ingestion", "engage_update", update) is None, update
                assert "$delete" in update
        else:
            assert dict(parse_qsl(urlsplit(request.url).query)) == {"token": "t"}
            assert request.headers["authorization"] == "Bearer g"
            assert violation("mixpanel-gdpr", "create_deletion", body) is None


def test_amplitude_privacy_requests_fit_the_user_privacy_reference() -> None:
    requests = captured(Amplitude(api_key="k", secret_key="s", capture=True))
    assert len(requests) == 1 + 1 + 3  # the 250 ids go as 100, 100 and 50
    for request in requests:
        assert urlsplit(request.url).path == "/api/2/deletions/users"
        assert request.headers["authorization"].startswith("Basic ")
        assert violation("amplitude-user-privacy", "deletion", json.loads(request.body)) is None


def test_segment_regulations_fit_the_public_api_reference() -> None:
    requests = captured(SegmentCompatible(write_key="w", regulations_token="t", capture=True))
    assert requests
    for request in requests:
        assert request.url == "https://api.segmentapis.com/regulations"
        assert request.headers["authorization"] == "Bearer t"
        body = json.loads(request.body)
        assert violation("segment-public-api", "create_workspace_regulation", body) is None


def test_segment_semantic_events_fit_the_tracking_api_reference() -> None:
    requests = captured(SegmentCompatible(write_key="w", privacy="semantic", capture=True))
    assert requests
    for request in requests:
        body = json.loads(request.body)
        assert violation("segment-tracking", "batch", body) is None
        for message in body["batch"]:
            assert violation("segment-tracking", "message", message) is None, message


def test_webhook_privacy_bodies_fit_the_documented_shape() -> None:
    requests = captured(Webhook(url="https://hooks.example.com/in", secret="s", capture=True))
    assert len(requests) == len(REQUEST_KINDS) * len(PEOPLE)
    for request in requests:
        assert "x-trackwell-signature" in request.headers
        assert violation("trackwell-webhook", "privacy", json.loads(request.body)) is None


@pytest.mark.parametrize("kind", REQUEST_KINDS)
def test_customerio_privacy_calls_match_the_official_library(
    kind: RequestKind,
    official: OfficialClient,
    customerio_tls_fake: FakeCustomerIO,
    tls_files: TlsFiles,
) -> None:
    fake = customerio_tls_fake
    calls: dict[str, Any] = {
        "erase": official.delete,
        "suppress": official.suppress,
        "unsuppress": official.unsuppress,
    }
    calls[kind]("user-0001")
    calls[kind]("ada@example.com")
    theirs = fake.requests[:]
    transport = HttpxTransport(verify=ssl.create_default_context(cafile=str(tls_files.cert)))
    ours = CustomerIO(
        site_id=fake.site_id, api_key=fake.api_key, base_url=fake.url, api="v1", transport=transport
    )
    try:
        assert ours.privacy(kind, Subject(user_ids=("user-0001",))).status == "done"
        assert ours.privacy(kind, Subject(emails=("ada@example.com",))).status == "done"
    finally:
        transport.close()
    mine = fake.requests[len(theirs) :]
    assert len(mine) == len(theirs) == 2
    for their, my in zip(theirs, mine, strict=True):
        assert (my.method, my.path) == (their.method, their.path)
        assert my.headers["authorization"] == their.headers["authorization"]
    # The library sends `{}` where the reference has no body; trackwell sends none.
    assert all(t.json() == {} for t in theirs) and all(m.body == b"" for m in mine)


def test_the_fakes_refuse_privacy_calls_that_do_not_fit(
    mixpanel_fake: FakeMixpanel,
    amplitude_fake: FakeAmplitude,
    segment_fake: FakeSegment,
    webhook_fake: FakeWebhook,
) -> None:
    mixpanel = (
        f"{mixpanel_fake.url}/api/app/data-deletions/v3.0/?token={mixpanel_fake.project_token}"
    )
    bearer = {"authorization": f"Bearer {mixpanel_fake.gdpr_token}"}
    with httpx.Client() as client:
        wrong = client.post(mixpanel, headers=bearer, json={"distinct_ids": ["u"], "ids": ["u"]})
        assert wrong.status_code == 400 and "ids" in wrong.text
        empty = client.post(mixpanel, headers=bearer, json={"distinct_ids": []})
        assert empty.status_code == 400
        amplitude = client.post(
            amplitude_fake.url + "/api/2/deletions/users",
            auth=(amplitude_fake.api_key, amplitude_fake.secret_key),
            json={"user_ids": [f"u{i}" for i in range(101)], "requester": "x"},
        )
        assert amplitude.status_code == 400 and "user_ids" in amplitude.text
        segment = client.post(
            segment_fake.url + "/regulations",
            headers={"authorization": f"Bearer {segment_fake.public_api_token}"},
            json={"regulationType": "FORGET", "subjectType": "USER_ID", "subjectIds": ["u"]},
        )
        assert segment.status_code == 422 and "regulationType" in segment.text
        body = b'{"type": "privacy", "action": "forget", "userIds": [], "anonymousIds": [],'
        body += b' "emails": [], "sentAt": "2026-12-07T23:00:00Z"}'
        signed = signature_headers(webhook_fake.secret, body, time.time())
        hook = client.post(webhook_fake.url + webhook_fake.path, headers=signed, content=body)
        assert hook.status_code == 400 and "action" in hook.text
    assert not (mixpanel_fake.deletion_tasks or amplitude_fake.deletion_jobs)
    assert not (segment_fake.regulations or webhook_fake.privacy_requests)
