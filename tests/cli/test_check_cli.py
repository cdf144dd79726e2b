"""`trackwell check`: formats, report, JSON document, and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trackwell.cli import app

from ..conftest import EXAMPLE_PLAN

runner = CliRunner()

GOOD = {
    "type": "track",
    "userId": "u1",
    "event": "Trial Started",
    "properties": {"plan_name": "pro", "trial_days": 14, "trial_ends_at": 1796000000},
    "timestamp": "2026-11-29T10:00:00Z",
    "receivedAt": "2026-11-29T10:00:01Z",
    "messageId": "m-good",
}


def write_jsonl(path: Path, *messages: Any, extra_lines: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(m) for m in messages] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "--plan", str(EXAMPLE_PLAN), *args], input=stdin)
    return result.exit_code, result.stdout + result.stderr


def test_clean_file_exits_0(tmp_path: Path) -> None:
    code, out = run(str(write_jsonl(tmp_path / "e.jsonl", GOOD)))
    assert code == 0 and "1 messages: 1 accepted" in out


def test_json_document_shape(tmp_path: Path) -> None:
    typo = {**GOOD, "event": "Trial Startd", "messageId": "m-typo"}
    events = write_jsonl(tmp_path / "e.jsonl", GOOD, typo, extra_lines=("{not json",))
    code, out = run(str(events), "--json")
    assert code == 1
    document = json.loads(out)
    assert document["summary"] == {
        "messages": 3,
        "accepted": 1,
        "repaired": 0,
        "blocked": 2,
        "by_code": {"unplanned_event": 1, "malformed": 1},
    }
    second = document["messages"][1]
    assert second["index"] == 1 and second["line"] == 2 and second["messageId"] == "m-typo"
    assert (
        second["type"] == "track"
        and second["event"] == "Trial Startd"
        and second["verdict"] == "blocked"
    )
    assert second["violations"] == [
        {
            "code": "unplanned_event",
            "path": "event",
            "message": "'Trial Startd' is not a planned event; did you mean 'Trial Started'?",
            "effect": "block",
            "suggestion": "Trial Started",
        }
    ]
    third = document["messages"][2]
    assert third["line"] == 3 and third["violations"][0]["code"] == "malformed"


def test_segment_batch_file_and_stdin(tmp_path: Path) -> None:
    batch = {
        "batch": [
            GOOD,
            {**GOOD, "messageId": "m2", "properties": {**GOOD["properties"], "coupon": "x"}},
        ]
    }
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(batch, indent=2))
    code, out = run(str(path))
    assert code == 0 and "1 accepted" in out and "1 repaired" in out and "unplanned_property" in out
    code, out = run("-", stdin=json.dumps(GOOD) + "\n")
    assert code == 0 and "1 accepted" in out


def test_fail_on_levels(tmp_path: Path) -> None:
    repaired = {**GOOD, "properties": {**GOOD["properties"], "coupon": "x"}}
    path = write_jsonl(tmp_path / "e.jsonl", repaired)
    assert run(str(path))[0] == 0
    assert run(str(path), "--fail-on", "repaired")[0] == 1
    missing_time = {k: v for k, v in GOOD.items() if k != "timestamp"}
    path = write_jsonl(tmp_path / "t.jsonl", missing_time)
    assert run(str(path))[0] == 0
    assert run(str(path), "--fail-on", "warning")[0] == 1


def test_readable_report_groups_by_code(tmp_path: Path) -> None:
    typos = [{**GOOD, "event": "Trial Startd", "messageId": f"m{i}"} for i in range(5)]
    code, out = run(str(write_jsonl(tmp_path / "e.jsonl", *typos)))
    assert code == 1
    assert "unplanned_event (5)" in out and "line 1 Trial Startd" in out and "... and 2 more" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("", "the input is empty")],
)
def test_unusable_input_exits_2(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "events.jsonl"
    if content is not None:
        path.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "trackwell", "check", str(path), "--plan", str(EXAMPLE_PLAN)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_sensitive_values_never_reach_the_output(tmp_path: Path) -> None:
    leaky = {**GOOD, "properties": {**GOOD["properties"], "note": "card 4111 1111 1111 1111"}}
    path = write_jsonl(tmp_path / "e.jsonl", leaky)
    for extra in ((), ("--json",)):
        _, out = run(str(path), *extra)
        assert "sensitive_data" in out and "4111" not in out
