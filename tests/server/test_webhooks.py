"""The outcome webhooks: Customer.io's signed reporting webhooks (valid, forged, replayed, out of
order, duplicated, unknown, anonymous, a store that fails) and another tool's signed outcomes,
posted to a gateway, and what the store holds afterwards."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.cio_reporting import (
    DEFAULT_REPORTING_KEY,
    cio_signature,
    report_body,
    signed_report,
)
from tests.fakes.customerio import FakeCustomerIO
from tests.reliability.storage import locked_by_another_process
from trackwell.core.signing import signature_headers
from trackwell.destinations.customerio import CustomerIO
from trackwell.server.webhook_keys import WebhookKeys
from trackwell.store.sqlite import SQLiteStore

from .conftest import QUICK_KEY, SERVER_KEY, Harness, harness, start_gateway

pytestmark = pytest.mark.anyio
KEY = DEFAULT_REPORTING_KEY
KEYS = WebhookKeys(customerio=(KEY,), sources={"BRAZE_EU": ("braze-key",)})
PATH = "/webhooks/customerio"
NOW_S = int(time.time())
IDENTIFY = {
    "userId": "ada-1",
    "anonymousId": "anon-ada",
    "traits": {"email": "ada@example.com", "created_at": 1_700_000_000},
}
TRACK = {
    "userId": "ada-1",
    "event": "Account Created",
    "properties": {"plan": "free", "signup_source": "organic"},
}


def cio_report(
    event_id: str, metric: str = "sent", *, at: int = NOW_S, **data: Any
) -> dict[str, Any]:
    """A reporting-webhook body naming a person by id, unless `data` says otherwise."""
    fields: dict[str, Any] = {"customer_id": "ada-1", "identifiers": {"id": "ada-1"}}
    fields.update(data)
    return {
        "event_id": event_id,
        "object_type": "email",
        "metric": metric,
        "timestamp": at,
        "data": {"campaign_id": 4, "action_id": 9, **fields},
    }


async def post(
    h: Harness, report: Any, *, key: str = KEY, timestamp: int | None = None
) -> httpx.Response:
    """Post a report signed with `key` at `timestamp` (default now)."""
    body, headers = signed_report(key, report, timestamp)
    return await h.client.post(PATH, content=body, headers=headers)


async def test_a_signed_report_is_stored_and_a_retry_of_it_is_answered_and_stored_once(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, webhook_keys=KEYS) as h:
        first = await post(h, cio_report("01JEREPORT0000000000000001"))
        assert first.status_code == 200, first.text
        assert first.json() == {
            "received": 1,
            "stored": 1,
            "duplicates": 0,
            "dropped": 0,
            "linked": 0,
        }
        again = await post(h, cio_report("01JEREPORT0000000000000001"))
        assert again.status_code == 200 and again.json()["duplicates"] == 1
        (stored,) = h.store.reports_for_person("ada-1")
        assert (stored.source, stored.metric, stored.campaign_id, stored.action_id) == (
            "customerio",
            "sent",
            "4",
            "9",
        )
        assert stored.at_ms == NOW_S * 1000
        metrics = (await h.client.get("/metrics")).text
        assert (
            'trackwell_outcome_reports_total{metric="sent",result="stored",source="customerio"} 1.0'
            in metrics
        )
        assert (
            'trackwell_outcome_reports_total{metric="sent",result="duplicate",source="customerio"} 1.0'
            in metrics
        )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("forged", "does not match"),
        ("other key", "does not match"),
        ("replayed", "replay window"),
        ("from the future", "replay window"),
        ("unsigned", "not signed"),
        ("bad timestamp", "Unix seconds"),
    ],
)
async def test_a_forged_or_replayed_report_is_refused_and_nothing_is_stored(
    tmp_path: Path, change: str, why: str
) -> None:
    report = cio_report("01JEREPORT0000000000000002")
    body, headers = signed_report(KEY, report)
    if change == "forged":
        body = body.replace(b'"sent"', b'"opened"')
    elif change == "other key":
        body, headers = signed_report("not-the-key", report)
    elif change == "replayed":
        body, headers = signed_report(KEY, report, NOW_S - 301)
    elif change == "from the future":
        body, headers = signed_report(KEY, report, int(time.time()) + 400)
    elif change == "unsigned":
        del headers["X-CIO-Signature"]
    else:
        headers["X-CIO-Timestamp"] = "yesterday"
    async with harness(tmp_path, webhook_keys=KEYS) as h:
        answer = await h.client.post(PATH, content=body, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "unauthorized" and why in answer.json()["message"]
        assert h.store.reports_for_person("ada-1") == []


async def test_without_a_key_the_receivers_are_off(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        answer = await post(h, cio_report("01JEREPORT0000000000000003"))
        assert answer.status_code == 401
        assert "TRACKWELL_CUSTOMERIO_WEBHOOK_KEY" in answer.json()["message"]
        other = await h.client.post("/webhooks/outcomes/braze-eu", json={"event_id": "x"})
        assert other.status_code == 401
        assert "TRACKWELL_OUTCOMES_BRAZE_EU_KEY" in other.json()["message"]
        assert h.store.reports_for_person("ada-1") == []


async def test_a_key_being_rotated_verifies_with_either_key(tmp_path: Path) -> None:
    rotating = WebhookKeys.from_environ({"TRACKWELL_CUSTOMERIO_WEBHOOK_KEY": "new-key, old-key"})
    async with harness(tmp_path, webhook_keys=rotating) as h:
        assert (await post(h, cio_report("01JEREPORT0000000000000004"), key="old-key")).is_success
        assert (await post(h, cio_report("01JEREPORT0000000000000005"), key="new-key")).is_success
        assert (await post(h, cio_report("01JEREPORT0000000000000006"), key=KEY)).status_code == 401
        assert len(h.store.reports_for_person("ada-1")) == 2


async def test_reports_out_of_order_are_read_in_the_order_they_happened(tmp_path: Path) -> None:
    async with harness(tmp_path, webhook_keys=KEYS) as h:
        for event_id, metric, at in (
            ("01JEREPORT0000000000000013", "clicked", NOW_S - 10),
            ("01JEREPORT0000000000000012", "delivered", NOW_S - 50),
            ("01JEREPORT0000000000000011", "sent", NOW_S - 60),
        ):
            assert (await post(h, cio_report(event_id, metric, at=at))).status_code == 200
        assert [r.metric for r in h.store.reports_for_person("ada-1")] == [
            "sent",
            "delivered",
            "clicked",
        ]


async def test_unknown_metrics_object_types_and_fields_are_kept_not_refused(tmp_path: Path) -> None:
    odd = cio_report("01JEREPORT0000000000000020", "teleported", new_field={"a": [1]})
    odd["object_type"] = "hologram"
    odd["brand_new"] = True
    no_id = cio_report("", "sent")
    del no_id["event_id"]
    async with harness(tmp_path, webhook_keys=KEYS) as h:
        assert (await post(h, odd)).json()["stored"] == 1
        # Without an event id the body's hash stands in: the retry is still stored once.
        assert (await post(h, no_id)).json()["stored"] == 1
        assert (await post(h, no_id)).json()["duplicates"] == 1
        stored = {r.metric: r for r in h.store.reports_for_person("ada-1")}
        assert stored["teleported"].object_type == "hologram"
        assert stored["teleported"].body == odd
        assert stored["sent"].event_id.startswith("sha256:")
        metrics = (await h.client.get("/metrics")).text
        assert 'metric="(other)",result="stored"' in metrics
        # Not JSON at all is the one body refused (400) once signed.
        body = b"not json"
        now = int(time.time())
        headers = {"X-CIO-Timestamp": str(now), "X-CIO-Signature": cio_signature(KEY, now, body)}
        assert (await h.client.post(PATH, content=body, headers=headers)).status_code == 400


async def test_a_store_that_cannot_write_answers_503_and_the_retry_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("trackwell.store.sqlite.connection.BUSY_TIMEOUT_MS", 300)
    report = cio_report("01JEREPORT0000000000000030")
    async with harness(tmp_path, webhook_keys=KEYS) as h:
        with locked_by_another_process(tmp_path / "gateway.db"):
            answer = await post(h, report)
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "5"
            assert "locked" in answer.json()["message"]
        assert h.store.reports_for_person("ada-1") == []
        # Customer.io tries again: now it is stored.
        assert (await post(h, report)).json()["stored"] == 1
        metrics = (await h.client.get("/metrics")).text
        assert 'metric="sent",result="failed",source="customerio"} 1.0' in metrics


async def test_the_generic_outcome_webhook_takes_trackwells_signature(tmp_path: Path) -> None:
    async with harness(tmp_path, webhook_keys=KEYS) as h:
        sent = await h.client.post(
            "/v1/track", json={**TRACK, "messageId": "m-braze-1"}, auth=(SERVER_KEY, "")
        )
        assert sent.status_code == 200
        outcomes = [
            {
                "event_id": "b-1",
                "metric": "delivered",
                "object_type": "push",
                "timestamp": "2026-12-07T10:00:00Z",
                "message_id": "m-braze-1",
                "campaign_id": "onboarding",
            },
            {"event_id": "b-2", "metric": "opened", "user_id": "ada-1", "timestamp": NOW_S},
        ]
        body = json.dumps(outcomes).encode()
        url = "/webhooks/outcomes/braze-eu"
        answer = await h.client.post(
            url, content=body, headers=signature_headers("braze-key", body, time.time())
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["stored"] == 2 and answer.json()["linked"] == 1
        (linked,) = h.store.reports_for_message("m-braze-1")
        assert (linked.source, linked.person, linked.trigger_event) == (
            "webhook:braze-eu",
            "ada-1",
            "Account Created",
        )
        assert [r.event_id for r in h.store.reports_for_person("ada-1")] == ["b-1", "b-2"]
        forged = signature_headers("braze-key", body + b" ", time.time())
        assert (await h.client.post(url, content=body, headers=forged)).status_code == 401
        stale = signature_headers("braze-key", body, time.time() - 600)
        assert (await h.client.post(url, content=body, headers=stale)).status_code == 401
        # A source with no key is off; a name that cannot be a source is not a route.
        other = await h.client.post("/webhooks/outcomes/other", content=body, headers=forged)
        assert other.status_code == 401
        assert (
            await h.client.post("/webhooks/outcomes/Bad%20Name", content=body)
        ).status_code == 404


async def _until(condition: Any, what: str, seconds: float = 20) -> None:
    """Wait (without blocking the app's loop) until `condition()` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {seconds} s")
        await asyncio.sleep(0.05)


async def test_an_anonymous_event_merged_later_links_its_reports_to_the_person(
    tmp_path: Path,
) -> None:
    with FakeCustomerIO() as fake:
        cio = CustomerIO(site_id=fake.site_id, api_key=fake.api_key, base_url=fake.url, api="v1")
        async with harness(tmp_path, webhook_keys=KEYS, destinations=[cio]) as h:
            anonymous = {**TRACK, "anonymousId": "anon-ada", "messageId": "m-anon-1"}
            del anonymous["userId"]
            assert (
                await h.client.post("/v1/track", json=anonymous, auth=(SERVER_KEY, ""))
            ).is_success
            await _until(lambda: len(fake.events) == 1, "anonymous event at Customer.io")
            (event,) = fake.events
            assert event["anonymous_id"] == "anon-ada"
            # Customer.io learns who it was before trackwell's merge lands: its report names ada.
            report = report_body(event, "sent", person="ada-1")
            answer = await post(h, report)
            assert answer.json() == {
                "received": 1,
                "stored": 1,
                "duplicates": 0,
                "dropped": 0,
                "linked": 0,
            }
            identify = {**IDENTIFY, "messageId": "i-1"}
            assert (
                await h.client.post("/v1/identify", json=identify, auth=(SERVER_KEY, ""))
            ).is_success
            await _until(lambda: "ada-1" in fake.people, "the identify at Customer.io")
            # Found from the message's side, and under the person by either id.
            assert [r.event_id for r in h.store.reports_for_message("m-anon-1")] == [
                report["event_id"]
            ]
            assert [r.metric for r in h.store.reports_for_person("anon-ada")] == ["sent"]
            # A later report of the same journey is linked as it arrives.
            opened = fake.report(event, "opened")
            later = await post(h, opened)
            assert later.json()["linked"] == 1
            (stored,) = [r for r in h.store.reports_for_person("ada-1") if r.metric == "opened"]
            assert stored.trigger_message_id == "m-anon-1"
            assert stored.trigger_event == "Account Created"
            assert stored.email == "ada@example.com" and stored.cio_id is not None


def test_over_loopback_a_report_is_linked_to_the_message_customerio_received(
    tmp_path: Path,
) -> None:
    with FakeCustomerIO() as fake:
        (tmp_path / "trackwell.toml").write_text(
            f'[destinations.cio]\ntype = "customerio"\nbase_url = "{fake.url}"\n'
        )
        env = {
            "TRACKWELL_CIO_SITE_ID": fake.site_id,
            "TRACKWELL_CIO_API_KEY": fake.api_key,
            "TRACKWELL_CUSTOMERIO_WEBHOOK_KEY": fake.reporting_key,
        }
        served = start_gateway(tmp_path, env=env)
        try:
            with httpx.Client(base_url=served.url, timeout=10, auth=(QUICK_KEY, "")) as client:
                assert client.post("/v1/identify", json={**IDENTIFY, "messageId": "i-1"}).is_success
                assert client.post("/v1/track", json={**TRACK, "messageId": "m-1"}).is_success
            deadline = time.monotonic() + 20
            while not fake.events and time.monotonic() < deadline:
                time.sleep(0.05)
            (event,) = fake.events
            url = served.url + PATH
            answers = [
                fake.send_report(url, event, "delivered", at=NOW_S - 5),
                fake.send_report(url, event, "sent", at=NOW_S - 10),
                fake.send_report(url, event, "sent", at=NOW_S - 10),  # Customer.io's retry
                fake.send_report(url, event, "opened", timestamp=NOW_S - 3600),  # replayed
            ]
        finally:
            served.stop()
        assert [a.status_code for a in answers] == [200, 200, 200, 401]
        assert [a.json()["linked"] for a in answers[:3]] == [1, 1, 0]
        store = SQLiteStore(served.store[len("sqlite:///") :])
        try:
            reports = store.reports_for_message("m-1")
            assert [r.metric for r in reports] == ["sent", "delivered"]
            assert {r.person for r in reports} == {"ada-1"}
            assert {r.trigger_event_id for r in reports} == {event["id"]}
            outcomes = store.event_outcomes(
                "Account Created", (NOW_S - 3600) * 1000, (NOW_S + 3600) * 1000
            )
            assert (outcomes.senders, outcomes.triggered, outcomes.metrics) == (
                1,
                1,
                {"delivered": 1, "sent": 1},
            )
        finally:
            store.close()
        logs = served.logs() + (tmp_path / "serve.out").read_text(errors="replace")
        assert "ada" not in logs and fake.reporting_key not in logs
