"""The SDK delivering: to destinations in-process, and to a gateway through the local outbox."""

from __future__ import annotations

import time
from pathlib import Path

import trackwell
from tests.conftest import EXAMPLE_PLAN
from tests.fakes.segment import FakeSegment
from tests.fakes.webhook import FakeWebhook
from trackwell.destinations.webhook import Webhook


def wait_for(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_gateway_mode_sends_the_segment_batch_api_from_a_durable_outbox(tmp_path: Path) -> None:
    with FakeSegment(write_key="source-key") as gateway:
        client = trackwell.Client(
            plan=str(EXAMPLE_PLAN),
            store=f"sqlite:///{tmp_path / 'outbox.db'}",
            gateway=gateway.url,
            write_key="source-key",
        )
        try:
            client.identify("u-1", {"email": "u1@example.com", "created_at": 1700000000})
            client.track("u-1", "Feature Used", {"feature_name": "projects"}, message_id="f-1")
            client.track("u-1", "Feature Usd", {"feature_name": "projects"}, message_id="typo")
            assert client.flush()
            assert wait_for(lambda: len(gateway.messages) == 2)
        finally:
            client.close()
        sent = {m.get("messageId"): m for m in gateway.messages}
        assert sent["f-1"]["event"] == "Feature Used"
        assert "typo" not in sent  # blocked by the plan before it left the process
        assert [m["type"] for m in gateway.messages] == ["identify", "track"]


def test_destinations_in_process(tmp_path: Path) -> None:
    with FakeWebhook(secret="s3cret") as hook:
        destination = Webhook("hook", url=f"{hook.url}/hooks/trackwell", secret="s3cret")
        client = trackwell.Client(
            plan=str(EXAMPLE_PLAN),
            store=f"sqlite:///{tmp_path / 'tw.db'}",
            destinations=[destination],
        )
        try:
            for i in range(25):
                client.track(
                    f"u-{i % 3}", "Feature Used", {"feature_name": "projects"}, message_id=f"m-{i}"
                )
            assert client.flush()
            assert wait_for(lambda: len(hook.messages) == 25)
        finally:
            client.close()
        assert sorted(m["messageId"] for m in hook.messages) == sorted(f"m-{i}" for i in range(25))
