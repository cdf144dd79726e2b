"""`trackwell serve` on a team's own plan (the banner's curl line, `trackwell demo`) and in demo
mode (the Customer.io stand-in, one demo day per store), as real processes."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import orjson
from typer.testing import CliRunner

from tests.plan.helpers import good_event, plan_text
from trackwell.cli import app
from trackwell.cli.demo_customerio import DEMO_WEBHOOK_KEY, sign
from trackwell.cli.serve import DEMO_DESTINATION, DEMO_SEEDED
from trackwell.store.sqlite import SQLiteStore

from .conftest import QUICK_KEY, Served, start_gateway

CUSTOM_EVENTS = {
    "Report Exported": good_event(
        stage="Engagement",
        used_by=["Export follow-up"],
        properties={
            "report_code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$", "required": True},
            "row_count": {"type": "integer", "minimum": 10, "required": True},
            "format": {"type": "string", "enum": ["csv", "pdf"]},
        },
    ),
    "Dashboard Shared": good_event(
        stage="Engagement",
        used_by=["Sharing tips"],
        properties={"viewer_count": {"type": "integer", "minimum": 1, "required": True}},
    ),
}


def _custom_plan(folder: Path) -> Path:
    """A team's own plan, none of the example plan's events in it."""
    path = folder / "team-plan.yaml"
    text = plan_text(CUSTOM_EVENTS, traits={
        "email": {"type": "string", "format": "email", "required": True},
        "created_at": {"type": "timestamp", "required": True},
        "team_name": {"type": "string"},
    })  # fmt: skip
    path.write_text(text)
    return path


def _store(served: Served) -> SQLiteStore:
    """The gateway's SQLite store, opened beside it."""
    return SQLiteStore(served.store[len("sqlite:///") :])


def _wait_for(served: Served, pattern: str, timeout: float = 60) -> str:
    """The gateway's standard output once it shows `pattern`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = (served.folder / "serve.out").read_text()
        if re.search(pattern, out):
            return out
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in: {(served.folder / 'serve.out').read_text()}")


def test_on_a_teams_own_plan_the_banner_curl_line_and_trackwell_demo_are_accepted(
    tmp_path: Path,
) -> None:
    plan = _custom_plan(tmp_path)
    served = start_gateway(tmp_path, "--plan", str(plan))
    try:
        banner = _wait_for(served, r"Ctrl-C stops")
        curl = next(
            line.strip() for line in banner.splitlines() if line.strip().startswith("curl ")
        )
        assert "Report Exported" in curl and "Account Created" not in curl
        answer = subprocess.run(
            curl, shell=True, capture_output=True, text=True, check=True, timeout=10
        )
        assert '"accepted":1' in answer.stdout and '"blocked":0' in answer.stdout
        assert f"--plan {plan}" in banner
        demo = CliRunner().invoke(app, ["demo", "--url", served.url, "--write-key", QUICK_KEY,
                                        "--users", "40", "--plan", str(plan), "--json"])  # fmt: skip
        assert demo.exit_code == 0, demo.output
        totals = orjson.loads(demo.stdout)
        assert totals["accepted"] > 40 and totals["violations"].get("unplanned_event", 0) >= 1
        # Not demo mode: no demo webhook key either, so the receiver is off.
        body, at = b'{"event_id": "e-1", "metric": "sent", "timestamp": 1}', str(int(time.time()))
        headers = {"X-CIO-Timestamp": at, "X-CIO-Signature": sign(DEMO_WEBHOOK_KEY, at, body)}
        refused = httpx.post(f"{served.url}/webhooks/customerio", content=body, headers=headers)
        assert refused.status_code == 401
    finally:
        served.stop()
    store = _store(served)
    try:
        names = {e.message.get("event") for e in store.sample(limit=1000, type="track")}
        assert names == set(CUSTOM_EVENTS)
        # Not demo mode: no stand-in destination, nothing to deliver anywhere.
        stats = store.delivery_stats(int(time.time() * 1000))
        assert DEMO_DESTINATION not in {s.destination for s in stats}
    finally:
        store.close()


def test_demo_mode_delivers_to_the_stand_in_and_sends_its_day_once_per_store(
    tmp_path: Path,
) -> None:
    served = start_gateway(tmp_path, "--demo")
    try:
        first = _wait_for(served, r"Demo: [\d,]+ messages sent")
        sent = int(re.search(r"Demo: ([\d,]+) messages sent", first).group(1).replace(",", ""))  # type: ignore[union-attr]
        store = _store(served)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                by_name = {s.destination: s for s in store.delivery_stats(int(time.time() * 1000))}
                stats = by_name[DEMO_DESTINATION]
                if stats.pending == 0 and stats.delivered > 0:
                    break
                time.sleep(0.5)
            assert stats.pending == 0 and stats.delivered > 1000, stats
            # The loop closes: the stand-in's signed reports are taken and stored.
            while time.monotonic() < deadline and not store.report_counts(0, 1 << 62):
                time.sleep(0.5)
            metrics = {c.metric for c in store.report_counts(0, 1 << 62)}
            assert {"sent", "delivered", "opened", "bounced"} <= metrics
            count = store.count()
            [seeded] = store.audit_entries(action=DEMO_SEEDED)
            assert seeded.actor == "demo" and seeded.detail["messages"] == sent
        finally:
            store.close()
    finally:
        served.stop()
    again = start_gateway(tmp_path, "--demo")
    try:
        _wait_for(again, r"already has its demo day")
    finally:
        again.stop()
    store = _store(again)
    try:
        assert store.count() == count
        assert len(store.audit_entries(action=DEMO_SEEDED)) == 1
    finally:
        store.close()
