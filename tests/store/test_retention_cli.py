"""`trackwell store retention`: one pass on demand, its dry run, its JSON, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.backends import feature
from tests.postgres import fresh_schema_url, postgres_database
from tests.store.days import NOW, TODAY, catalogue_partitions, received
from trackwell.cli import app
from trackwell.core.time import DAY_MS, iso_seconds, now_ms
from trackwell.pipeline.accept import accept
from trackwell.quality.compiled import CompiledPlan, compile_plan
from trackwell.store import open_store
from trackwell.store.postgres.dialect import partition_name

__all__ = ["postgres_database"]

runner = CliRunner()


@pytest.fixture
def compiled(example_plan: object) -> CompiledPlan:
    return compile_plan(example_plan)  # type: ignore[arg-type]


def fill(url: str, compiled: CompiledPlan) -> None:
    """Four messages and a blocked one 12 days ago, two messages and a blocked one today."""
    store = open_store(url)
    try:
        old = [feature(n) for n in range(4)] + [{**feature(9), "event": "Feature Usedd"}]
        accept(store, compiled, old, received_at=received(12))
        new = [feature(n) for n in range(10, 12)] + [{**feature(19), "event": "Feature Usedd"}]
        accept(store, compiled, new, received_at=NOW)
    finally:
        store.close()


def counts(url: str) -> tuple[int, int]:
    """(logged, blocked) messages in the store."""
    store = open_store(url)
    try:
        logged = store.count()
        blocked = sum(store.get(f"f-{n}") is not None for n in (9, 19))
    finally:
        store.close()
    return logged, blocked


def config(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "trackwell.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_dry_run_reports_in_json_and_removes_nothing_then_a_pass_removes_it(
    tmp_path: Path, compiled: CompiledPlan
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fill(url, compiled)
    toml = config(tmp_path, "[retention]\nlog_days = 7\nblocked_days = 3\n")

    result = runner.invoke(
        app, ["--config", str(toml), "store", "retention", "--store", url, "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # The command cuts from the day it runs on, which is not TODAY when the run crossed midnight.
    today = now_ms() // DAY_MS
    log_cut = (today - 7) * DAY_MS
    assert document == {
        "dry_run": True,
        "log": {
            "days": 7,
            "cutoff": iso_seconds(log_cut),
            "cutoff_ms": log_cut,
            "rows": 4,
            "partitions": [],
            "delivery_rows": 0,
        },
        "blocked": {
            "days": 3,
            "cutoff": iso_seconds((today - 3) * DAY_MS),
            "cutoff_ms": (today - 3) * DAY_MS,
            "rows": 1,
        },
    }
    assert counts(url) == (6, 2)

    result = runner.invoke(app, ["--config", str(toml), "store", "retention", "--store", url])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"log: 4 message(s) received before {iso_seconds(log_cut)} removed",
        "  with 0 queue and delivery history row(s)",
        f"blocked: 1 message(s) received before {iso_seconds((today - 3) * DAY_MS)} removed",
    ]
    assert counts(url) == (2, 1)
    # The pass is on the audit log with its counts; the dry run is not.
    store = open_store(url)
    try:
        entries = store.audit_entries(action="retention")
    finally:
        store.close()
    assert [(e.action, e.target) for e in entries] == [("retention", "store")]
    assert entries[0].actor.startswith("cli")
    assert dict(entries[0].detail) == {
        "log_days": 7,
        "blocked_days": 3,
        "log_rows": 4,
        "blocked_rows": 1,
        "partitions": 0,
    }


def test_flags_win_over_the_file_and_an_unset_table_is_kept(
    tmp_path: Path, compiled: CompiledPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fill(url, compiled)
    toml = config(tmp_path, "[retention]\nlog_days = 30\n")
    monkeypatch.setenv("TRACKWELL_STORE", url)
    result = runner.invoke(
        app, ["--config", str(toml), "store", "retention", "--log-days", "10", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("log: 4 message(s) received before")
    assert lines[0].endswith("would be removed (dry run)")
    assert lines[-1] == "blocked: kept for ever (no blocked retention)"
    assert counts(url) == (6, 2)


def test_postgresql_names_the_day_partitions_it_drops(
    postgres_database: str, tmp_path: Path, compiled: CompiledPlan
) -> None:
    url = fresh_schema_url(postgres_database)
    fill(url, compiled)
    old_day = partition_name(TODAY - 12)
    toml = config(tmp_path)
    args = ["--config", str(toml), "store", "retention", "--store", url, "--log-days", "7"]

    preview = runner.invoke(app, [*args, "--dry-run", "--json"])
    assert preview.exit_code == 0, preview.output
    assert json.loads(preview.stdout)["log"]["partitions"] == [old_day]
    assert old_day in catalogue_partitions(url)

    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["log"]["rows"], document["log"]["partitions"]) == (4, [old_day])
    assert document["blocked"] is None
    assert old_day not in catalogue_partitions(url)
    assert counts(url) == (2, 2)  # no blocked retention: both blocked messages stay


@pytest.mark.parametrize(
    ("args", "toml", "expected"),
    [
        (["--log-days", "3"], "", "--log-days: log retention of 3 days is shorter than the dedup"),
        ([], "[retention]\nlog_days = 5\n", "trackwell.toml: retention.log_days: log retention of"),
        ([], "[retention]\nblocked_days = 0\n", "retention.blocked_days must be a whole number"),
        ([], "", "no retention configured"),
        (["--blocked-days", "0"], "", "Invalid value for '--blocked-days'"),
    ],
)
def test_an_unusable_retention_exits_2_and_removes_nothing(
    tmp_path: Path, compiled: CompiledPlan, args: list[str], toml: str, expected: str
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fill(url, compiled)
    path = config(tmp_path, toml)
    result = runner.invoke(
        app, ["--config", str(path), "store", "retention", "--store", url, *args]
    )
    assert result.exit_code == 2
    assert expected in result.output
    assert counts(url) == (6, 2)


def test_no_message_of_the_store_is_printed(tmp_path: Path, compiled: CompiledPlan) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fill(url, compiled)
    toml = config(tmp_path, "[retention]\nlog_days = 7\nblocked_days = 7\n")
    for extra in ([], ["--json"]):
        result = runner.invoke(
            app, ["--config", str(toml), "store", "retention", "--store", url, *extra]
        )
        assert result.exit_code == 0
        assert (
            "f-" not in result.output
            and "Feature" not in result.output
            and "u1" not in (result.output)
        )
