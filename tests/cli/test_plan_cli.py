"""`trackwell plan ...` through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackwell.cli import app
from trackwell.plan import load_plan

from ..conftest import EXAMPLE_PLAN
from ..plan.helpers import good_event, plan_text

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_lint_example_prints_report_and_exits_0() -> None:
    code, out, _ = run("plan", "lint", str(EXAMPLE_PLAN))
    assert code == 0
    assert "Acme Projects v3" in out and "15 events" in out and "clean" in out


def test_lint_errors_exit_1_with_file_line_and_code(tmp_path: Path) -> None:
    plan = tmp_path / "p.yaml"
    plan.write_text(plan_text({"Account Created": good_event(), "Account Crated": good_event()}))
    code, out, _ = run("plan", "lint", str(plan))
    assert code == 1
    assert f"{plan}:" in out and "error near_duplicate events.Account Crated" in out


def test_lint_json_and_strict(tmp_path: Path) -> None:
    plan = tmp_path / "p.yaml"
    plan.write_text(plan_text({"Trial Started": good_event(description="")}))
    code, out, _ = run("plan", "lint", str(plan), "--json")
    document = json.loads(out)
    assert code == 0 and document["warnings"] == 1 and document["errors"] == 0
    assert document["findings"][0]["code"] == "missing_description"
    assert document["findings"][0]["path"] == "events.Trial Started"
    code, _, _ = run("plan", "lint", str(plan), "--strict")
    assert code == 1


def test_lint_uses_the_configured_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "main.yaml").write_text(plan_text())
    (tmp_path / "trackwell.toml").write_text('plan = "plans/main.yaml"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKWELL_PLAN", raising=False)
    code, out, _ = run("plan", "lint")
    assert code == 0 and "plans/main.yaml" in out
    monkeypatch.setenv("TRACKWELL_PLAN", str(EXAMPLE_PLAN))
    code, out, _ = run("plan", "lint")
    assert code == 0 and "Acme Projects" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("events: [\n", "invalid YAML"),
        ("- a\n- b\n", "plan: expected a map, got a list"),
        (
            "trackwell: 1\nname: T\nversion: 1\nevents:\n  A B:\n    properties:\n      x: int\n",
            "plan.yaml:7:10: property 'x': unknown type 'int'",
        ),
        ("trackwell: 1\n#" + "x" * 5 * 1024 * 1024 + "\n", "plan file is 5.0 MB"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2_without_traceback(
    tmp_path: Path, content: str | None, message: str
) -> None:
    plan = tmp_path / "plan.yaml"
    if content is not None:
        plan.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "trackwell", "plan", "lint", str(plan)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("error: ")


def test_diff_breaking_without_bump_exits_1(tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(plan_text({"Trial Started": good_event(used_by=["Trial drip"])}))
    new.write_text(
        plan_text(
            {
                "Trial Started": good_event(
                    properties={"plan_name": "string"}, used_by=["Trial drip"]
                )
            }
        )
    )
    code, out, _ = run("plan", "diff", str(old), str(new))
    assert code == 1
    assert "breaking" in out and "property_removed" in out and "used by: Trial drip" in out
    new.write_text(new.read_text().replace("version: 1", "version: 2"))
    code, out, _ = run("plan", "diff", str(old), str(new), "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"] and document["breaking"] >= 1


def test_diff_against_git_ref(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], check=True)
    Path("tracking-plan.yaml").write_text(plan_text())
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "plan"], check=True)
    Path("tracking-plan.yaml").write_text(
        plan_text({"Subscription Started": good_event(), "Invite Sent": good_event()})
    )
    code, out, _ = run(
        "plan", "diff", "git:HEAD:tracking-plan.yaml", "tracking-plan.yaml", "--json"
    )
    assert code == 0
    assert [c["code"] for c in json.loads(out)["changes"]] == ["event_added"]
    code, _, err = run("plan", "diff", "git:nope:tracking-plan.yaml", "tracking-plan.yaml")
    assert code == 2 and "git:nope:tracking-plan.yaml" in err


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    out_dir = tmp_path / "schemas"
    code, out, _ = run("plan", "export", "jsonschema", str(EXAMPLE_PLAN), "-o", str(out_dir))
    assert code == 0 and "Wrote 17 files" in out
    target = tmp_path / "imported.yaml"
    code, _, err = run("plan", "import", "jsonschema", str(out_dir), "-o", str(target))
    assert code == 0, err
    assert load_plan(target) == load_plan(EXAMPLE_PLAN)
    code, _, err = run("plan", "import", "jsonschema", str(out_dir), "-o", str(target))
    assert code == 2 and "--force" in err


def test_export_removes_schemas_of_removed_events(tmp_path: Path) -> None:
    out_dir = tmp_path / "schemas"
    run("plan", "export", "jsonschema", str(EXAMPLE_PLAN), "-o", str(out_dir))
    small = tmp_path / "small.yaml"
    small.write_text(plan_text())
    run("plan", "export", "jsonschema", str(small), "-o", str(out_dir))
    assert sorted(p.name for p in out_dir.glob("*.schema.json")) == [
        "subscription_started.schema.json",
        "traits.schema.json",
    ]


def test_import_segment_to_stdout_reports_unmapped(tmp_path: Path) -> None:
    source = tmp_path / "segment.json"
    source.write_text(
        json.dumps(
            {
                "display_name": "Web",
                "rules": {
                    "events": [
                        {
                            "name": "Order Completed",
                            "rules": {
                                "properties": {"properties": {"properties": {"x": {"oneOf": []}}}}
                            },
                        }
                    ]
                },
            }
        )
    )
    code, out, err = run("plan", "import", "segment", str(source))
    assert code == 0
    assert "Order Completed:" in out and "name: Web" in out
    assert "not mapped" in err and "oneOf" in err
    code, _, err = run("plan", "import", "segment", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err


def test_global_config_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACKWELL_PLAN", raising=False)
    config = tmp_path / "conf" / "tw.toml"
    config.parent.mkdir()
    config.write_text(f'plan = "{EXAMPLE_PLAN}"\n')
    code, out, _ = run("--config", str(config), "plan", "lint")
    assert code == 0 and "Acme Projects" in out
    config.write_text('plan = "x.yaml"\nbogus = 1\n')
    code, _, err = run("--config", str(config), "plan", "lint")
    assert code == 2 and "unknown key 'bogus'" in err
    code, _, err = run("--config", str(tmp_path / "none.toml"), "plan", "lint")
    assert code == 2 and "no such file" in err
