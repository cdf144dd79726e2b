"""Retention inside the gateway: a pass at start (then on a timer) that logs counts, never data,
and never takes the gateway down; `serve` refuses a log kept shorter than the dedup window."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.backends import feature
from tests.store.days import NOW_MS, received
from trackwell.cli import app as cli
from trackwell.core.time import DAY_MS
from trackwell.io.config import RetentionSettings
from trackwell.pipeline.accept import accept
from trackwell.plan import Plan
from trackwell.quality.compiled import compile_plan
from trackwell.server.gateway import Gateway
from trackwell.server.retention import RetentionLoop
from trackwell.server.settings import GatewaySettings
from trackwell.store import RetentionReport, StoreError, open_store
from trackwell.store.sqlite import SQLiteStore

from ..conftest import EXAMPLE_PLAN
from .conftest import QUICK_KEY, TRACK, harness

pytestmark = pytest.mark.anyio


def old_messages(path: Path, plan: Plan) -> None:
    """Three messages and a blocked one received 12 days ago, in the gateway's store file."""
    store = open_store(f"sqlite:///{path}")
    try:
        items: list[dict[str, Any]] = [feature(n, "someone@example.com") for n in range(3)]
        items.append({**feature(9), "event": "Feature Usedd"})
        accept(store, compile_plan(plan), items, received_at=received(12))
    finally:
        store.close()


def wait_for(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


async def test_the_gateway_removes_old_messages_at_start_and_logs_only_counts(
    tmp_path: Path, example_plan: Plan, caplog: pytest.LogCaptureFixture
) -> None:
    old_messages(tmp_path / "gateway.db", example_plan)
    caplog.set_level(logging.INFO, logger="trackwell.retention")
    retention = RetentionSettings(log_days=7, blocked_days=7)
    async with harness(tmp_path, retention=retention) as gateway:
        loop = gateway.gateway.retention
        assert loop is not None
        wait_for(lambda: loop.latest is not None)
        assert loop.latest is not None
        assert (loop.latest.log_rows, loop.latest.blocked_rows) == (3, 1)
        assert gateway.stored() == (0, 0)
        answer = await gateway.client.post("/v1/track", json=TRACK, auth=(QUICK_KEY, ""))
        assert answer.status_code == 200
        assert gateway.stored() == (1, 0)
    [record] = [r for r in caplog.records if r.name == "trackwell.retention"]
    fields = record.fields  # type: ignore[attr-defined]
    assert (fields["log_rows"], fields["blocked_rows"]) == (3, 1)
    assert fields["log_cutoff"].endswith("T00:00:00Z")
    text = record.getMessage() + repr(fields)
    for value in ("someone@example.com", "f-0", "Feature"):
        assert value not in text


async def test_a_failing_pass_is_logged_and_the_gateway_keeps_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def failing(self: SQLiteStore, **options: Any) -> RetentionReport:
        calls.append(options["now_ms"])
        raise StoreError("the database is locked by another process (simulated)")

    monkeypatch.setattr(SQLiteStore, "apply_retention", failing)
    retention = RetentionSettings(log_days=30)
    async with harness(tmp_path, retention=retention, retention_interval=0.05) as gateway:
        wait_for(lambda: len(calls) >= 2)  # the pass after the failed one ran on time
        assert (await gateway.client.get("/healthz")).status_code == 200
        answer = await gateway.client.post("/v1/track", json=TRACK, auth=(QUICK_KEY, ""))
        assert answer.status_code == 200
        loop = gateway.gateway.retention
        assert loop is not None and loop.failures >= 2 and loop.passes == 0
    assert any(r.getMessage() == "retention pass failed" for r in caplog.records)


def test_no_retention_configured_runs_no_pass(tmp_path: Path) -> None:
    gateway = Gateway(GatewaySettings(plan=EXAMPLE_PLAN, store=f"sqlite:///{tmp_path / 'a.db'}"))
    try:
        assert gateway.retention is None
    finally:
        gateway.store.close()


def test_a_gateway_refuses_a_log_retention_inside_the_dedup_window(tmp_path: Path) -> None:
    settings = GatewaySettings(
        plan=EXAMPLE_PLAN,
        store=f"sqlite:///{tmp_path / 'a.db'}",
        retention=RetentionSettings(log_days=3),
    )
    with pytest.raises(ValueError, match="shorter than the dedup window"):
        Gateway(settings)
    assert not (tmp_path / "a.db").exists()  # refused before the store was opened


def test_serve_refuses_a_log_retention_inside_the_dedup_window(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    config.write_text("[retention]\nlog_days = 3\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "serve", "--plan", str(EXAMPLE_PLAN), "--write-key", "k"],
    )
    assert result.exit_code == 2
    assert f"{config}: retention.log_days: log retention of 3 days is shorter" in result.output


def test_the_loop_passes_its_clock_and_days_to_the_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        loop = RetentionLoop(store, log_days=10, blocked_days=2, clock=lambda: NOW_MS)
        report = loop.run_once()
    finally:
        store.close()
    assert report.log_cutoff_ms == (NOW_MS // DAY_MS - 10) * DAY_MS
    assert report.blocked_cutoff_ms == (NOW_MS // DAY_MS - 2) * DAY_MS
    assert (loop.passes, loop.failures, loop.latest) == (1, 0, report)


def test_serve_and_each_worker_process_carry_the_configured_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trackwell.cli.serve import _gateway_settings
    from trackwell.io.config import load_settings
    from trackwell.server import logs, run

    config = tmp_path / "trackwell.toml"
    config.write_text("[retention]\nlog_days = 30\nblocked_days = 5\n", encoding="utf-8")
    expected = RetentionSettings(log_days=30, blocked_days=5)
    settings = load_settings(config=config, plan=EXAMPLE_PLAN, environ={})
    assert _gateway_settings(settings, "k", router=False, high_water=10).retention == expected

    built: list[GatewaySettings] = []
    monkeypatch.setattr(run, "create_app", built.append)
    monkeypatch.setattr(logs, "configure", lambda level: None)  # leave pytest's logging be
    monkeypatch.setenv(
        run.WORKER_SETTINGS,
        json.dumps(
            {"config": str(config), "plan": str(EXAMPLE_PLAN), "store": "sqlite:///:memory:"}
        ),
    )
    run.worker_app()
    assert [s.retention for s in built] == [expected]
