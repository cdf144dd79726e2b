"""`trackwell plan gen`: writing, checking in CI, the change log, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackwell.cli import app

from ..conftest import EXAMPLE_PLAN
from ..plan.helpers import good_event, plan_text

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["plan", "gen", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("target", ["python", "typescript", "markdown"])
def test_writes_then_reports_up_to_date_then_check_passes(target: str, tmp_path: Path) -> None:
    out = tmp_path / "generated" / "out.txt"  # a missing folder is created
    code, stdout, _ = run(target, str(EXAMPLE_PLAN), "-o", str(out))
    assert code == 0 and f"Wrote {out} from Acme Projects v3." in stdout
    assert out.read_text().startswith(("# Generated", "// Generated", "<!-- Generated"))
    code, stdout, _ = run(target, str(EXAMPLE_PLAN), "-o", str(out))
    assert code == 0 and "is up to date" in stdout
    code, stdout, _ = run(target, str(EXAMPLE_PLAN), "-o", str(out), "--check")
    assert code == 0 and f"{out} is up to date with Acme Projects v3." in stdout


def test_check_of_the_committed_example_document_passes() -> None:
    doc = EXAMPLE_PLAN.with_suffix(".md")
    code, _, _ = run("markdown", str(EXAMPLE_PLAN), "-o", str(doc), "--check")
    assert code == 0


def test_check_shows_a_diff_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "events.py"
    run("python", str(EXAMPLE_PLAN), "-o", str(out))
    drifted = out.read_text().replace('"Account Created",', '"Account Creatd",', 1)
    out.write_text(drifted)
    code, stdout, stderr = run("python", str(EXAMPLE_PLAN), "-o", str(out), "--check")
    assert code == 1
    assert f"--- {out} (on disk)\n+++ {out} (from the plan)\n" in stdout
    assert '-    "Account Creatd",\n+    "Account Created",\n' in stdout
    assert f"error: {out} is out of date with Acme Projects v3" in stderr
    assert "trackwell plan gen python" in stderr
    assert out.read_text() == drifted


def test_check_of_a_missing_file_fails(tmp_path: Path) -> None:
    out = tmp_path / "events.ts"
    code, stdout, _ = run("typescript", str(EXAMPLE_PLAN), "-o", str(out), "--check")
    assert code == 1 and "+export type EventMap = {" in stdout
    assert not out.exists()


def test_check_ignores_windows_line_endings(tmp_path: Path) -> None:
    out = tmp_path / "events.ts"
    run("typescript", str(EXAMPLE_PLAN), "-o", str(out))
    out.write_bytes(out.read_bytes().replace(b"\n", b"\r\n"))
    code, _, _ = run("typescript", str(EXAMPLE_PLAN), "-o", str(out), "--check")
    assert code == 0


def test_jsonschema_target_is_the_export_and_checks_stale_schemas(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text({"Trial Started": good_event(), "Trial Ended": good_event()}))
    out = tmp_path / "schemas"
    code, stdout, _ = run("jsonschema", str(plan), "-o", str(out))
    assert code == 0 and "Wrote 4 files" in stdout
    assert json.loads((out / "plan.json").read_text())["name"] == "Test"
    assert run("jsonschema", str(plan), "-o", str(out), "--check")[0] == 0
    plan.write_text(plan_text({"Trial Started": good_event()}))
    code, stdout, stderr = run("jsonschema", str(plan), "-o", str(out), "--check")
    assert code == 1
    assert f"--- {out / 'trial_ended.schema.json'} (on disk)" in stdout
    assert "out of date" in stderr
    assert (out / "trial_ended.schema.json").exists()


def test_markdown_change_log_since_a_git_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], check=True)
    Path("tracking-plan.yaml").write_text(plan_text())
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "plan"], check=True)
    Path("tracking-plan.yaml").write_text(
        plan_text({"Subscription Started": good_event(), "Trial Ended": good_event()}, version=2)
    )
    monkeypatch.delenv("TRACKWELL_PLAN", raising=False)
    code, _, stderr = run("markdown", "-o", "docs/plan.md", "--since", "HEAD")
    assert code == 0, stderr
    doc = Path("docs/plan.md").read_text()
    assert "Changes since `HEAD` (version 1 to 2): 1 change(s), 0 breaking." in doc
    assert "| compatible | `event_added` | `events.Trial Ended` |" in doc
    absolute = str(tmp_path / "tracking-plan.yaml")
    code, _, stderr = run("markdown", absolute, "-o", "docs/plan.md", "--since", "HEAD", "--check")
    assert code == 0, stderr
    code, _, stderr = run("markdown", "-o", "docs/plan.md", "--since", "no-such-ref")
    assert code == 2 and "git:no-such-ref:tracking-plan.yaml" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ruby", str(EXAMPLE_PLAN), "-o", "x"], "unknown target 'ruby' (expected one of python,"),
        (["python", "missing.yaml", "-o", "x.py"], "missing.yaml:1:1: no such file"),
        (["python", str(EXAMPLE_PLAN)], "-o/--out is required: the file to write"),
        (["python", str(EXAMPLE_PLAN), "-o", "x.py", "--since", "HEAD"], "--since adds a change"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run(*args)
    assert code == 2
    assert stderr.startswith("error: ") and message in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for out in (tmp_path, blocker / "events.py"):  # a directory; a path under a file
        code, _, stderr = run("python", str(EXAMPLE_PLAN), "-o", str(out))
        assert code == 2 and stderr.startswith(f"error: {out}: cannot write (")


def test_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    command = ["plan", "gen", "python", str(EXAMPLE_PLAN), "-o", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "trackwell", *command],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr == f"error: {tmp_path}: cannot write (Is a directory)\n"
