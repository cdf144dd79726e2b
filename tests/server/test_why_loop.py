"""The loop closed over loopback: events through a real gateway to a fake Customer.io, which
reports back through its signed reporting webhook; `trackwell why` then tells both halves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.fakes.customerio import FakeCustomerIO
from trackwell.cli import app

from ..conftest import EXAMPLE_PLAN
from .conftest import QUICK_KEY, start_gateway

NOW_S = int(time.time())
IDENTIFY = {
    "userId": "ada-1",
    "traits": {"email": "ada@example.com", "created_at": 1_700_000_000},
}
TRACK = {
    "userId": "ada-1",
    "event": "Account Created",
    "properties": {"plan": "free", "signup_source": "organic"},
}


def test_why_tells_what_customerio_did_with_an_event_sent_through_the_gateway(
    tmp_path: Path,
) -> None:
    config = tmp_path / "trackwell.toml"
    with FakeCustomerIO() as fake:
        config.write_text(
            f'[destinations.cio]\ntype = "customerio"\nbase_url = "{fake.url}"\n'
            '[workflows]\n"Welcome email" = { customerio_campaign_id = 4 }\n'
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
            url = served.url + "/webhooks/customerio"
            for metric, seconds in (("sent", 10), ("bounced", 5)):
                answer = fake.send_report(url, event, metric, at=NOW_S - seconds, campaign_id=4)
                assert answer.status_code == 200, answer.text
        finally:
            served.stop()
    args = ["--config", str(config), "why", "ada-1", "--store", served.store]
    args += ["--plan", str(EXAMPLE_PLAN)]
    result = CliRunner().invoke(app, [*args, "--event", "Account Created", "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    [signup] = [e for e in document["events"] if e.get("event") == "Account Created"]
    assert signup["deliveries"]["cio"]["status"] == "delivered"
    assert [(r["metric"], r["campaignId"]) for r in signup["reports"]] == [
        ("sent", "4"),
        ("bounced", "4"),
    ]
    codes = [d["code"] for d in document["diagnosis"]]
    assert codes[-1] == "message_bounced" and document["reporting"] is True
    result = CliRunner().invoke(app, [*args, "--workflow", "Welcome email"])
    assert "Why workflow 'Welcome email'" in result.stdout
    assert "Customer.io triggered campaign 4 from it, and its email bounced" in result.stdout
