"""Webhook: signed JSON batches that a receiver can verify, and the verification helper."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.destinations.helpers import identify, kinds, track
from tests.fakes import FakeWebhook
from trackwell.destinations import CaptureTransport, Webhook
from trackwell.destinations.webhook import sign, verify_signature

Closing = Callable[[Webhook], Webhook]


def test_the_receiver_verifies_and_keeps_each_message_once(
    webhook_fake: FakeWebhook, closing: Closing
) -> None:
    destination = closing(
        Webhook(url=webhook_fake.url + webhook_fake.path, secret=webhook_fake.secret)
    )
    messages = [identify(), track()]
    assert kinds(destination.deliver(messages)) == ["delivered", "delivered"]
    assert kinds(destination.deliver(messages)) == ["delivered", "delivered"]
    assert webhook_fake.messages == messages  # the stored wire form, untouched
    assert webhook_fake.duplicates == 2


def test_a_wrong_secret_is_refused(webhook_fake: FakeWebhook, closing: Closing) -> None:
    destination = closing(Webhook(url=webhook_fake.url + webhook_fake.path, secret="guess"))
    (outcome,) = destination.deliver([track()])
    assert outcome.kind == "dead" and "bad signature" in (outcome.error or "")


def test_signature_headers_and_body() -> None:
    transport = CaptureTransport()
    destination = Webhook(
        url="https://hooks.example.com/in/",
        secret="s3cret",
        headers={"X-Team": "growth"},
        clock=lambda: 1714564800.9,
        transport=transport,
    )
    destination.deliver([track()])
    (request,) = transport.requests
    assert request.url == "https://hooks.example.com/in/"  # exactly as configured
    assert request.headers["x-trackwell-timestamp"] == "1714564800"
    assert request.headers["x-trackwell-signature"] == sign("s3cret", 1714564800, request.body)
    assert request.headers["x-team"] == "growth"
    assert set(json.loads(request.body)) == {"batch", "sentAt"}


def test_verify_signature() -> None:
    body = b'{"batch":[]}'
    good = sign("k", 1000, body)
    assert good.startswith("v0=") and len(good) == 3 + 64
    assert verify_signature("k", body, "1000", good, now=1100)
    assert not verify_signature("k", body + b" ", "1000", good, now=1100)  # tampered body
    assert not verify_signature("other", body, "1000", good, now=1100)
    assert not verify_signature("k", body, "1000", good, now=1000 + 301)  # replayed late
    assert not verify_signature("k", body, None, good)
    assert not verify_signature("k", body, "soon", good)


def test_oversize_messages_are_dead_and_batches_split() -> None:
    transport = CaptureTransport()
    destination = Webhook(url="http://x/h", secret="k", max_body_bytes=5_000, transport=transport)
    outcomes = destination.deliver(
        [
            track(properties={"b": "x" * 6_000}),
            *[track(properties={"b": "x" * 1_500}) for _ in range(6)],
        ]
    )
    assert outcomes[0].kind == "dead" and "bytes" in (outcomes[0].error or "")
    assert set(kinds(outcomes[1:])) == {"captured"}  # recorded by the CaptureTransport, not sent
    assert len(transport.requests) == 3 and all(len(r.body) <= 5_000 for r in transport.requests)


def test_describe_hides_the_secret_and_the_url_path() -> None:
    destination = Webhook(url="https://hooks.example.com/catch/123/tok3n", secret="s3cret")
    described = json.dumps(destination.describe())
    assert "s3cret" not in described and "tok3n" not in described
    assert destination.describe()["signed"] is True
    destination.close()
