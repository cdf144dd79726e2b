"""A violation has the same keys in `trackwell check --json` and in the gateway's answer (which
adds only where the message was: its index and messageId)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackwell.cli import app

from ..conftest import EXAMPLE_PLAN
from .conftest import SERVER_KEY, TRACK, harness

pytestmark = pytest.mark.anyio


async def test_check_and_the_gateway_agree_on_a_violation(tmp_path: Path) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # not stale: no second violation
    batch = [{**TRACK, "messageId": "typo", "event": "Acount Created", "timestamp": now}]
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"batch": batch}))
    result = CliRunner().invoke(app, ["check", str(events), "--plan", str(EXAMPLE_PLAN), "--json"])
    [checked] = json.loads(result.stdout)["messages"][0]["violations"]
    async with harness(tmp_path) as h:
        response = await h.client.post("/v1/batch", json={"batch": batch}, auth=(SERVER_KEY, ""))
    [answered] = response.json()["violations"]
    assert checked["code"] == "unplanned_event" and checked["suggestion"] == "Account Created"
    assert {k: v for k, v in answered.items() if k not in ("index", "messageId")} == checked
