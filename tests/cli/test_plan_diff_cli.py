"""`trackwell plan diff` through the command line: renames, output formats and exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trackwell.cli import app

from ..plan.helpers import good_event, plan_text

runner = CliRunner()

OLD = {
    "Trial Started": good_event(
        used_by=["Trial drip"],
        properties={"plan_name": {"type": "string", "required": True}, "seats": "integer"},
    )
}
# The case: renamed (old name kept as an alias), a type changed, a required one added.
NEW = {
    "Trial Activated": good_event(
        used_by=["Trial drip"],
        aliases=["Trial Started"],
        properties={
            "plan_name": {"type": "string", "required": True},
            "seats": "string",
            "region": {"type": "string", "required": True},
        },
    )
}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, events: dict[str, Any], **top: Any) -> str:
    path.write_text(plan_text(events, **top))
    return str(path)


def line_of(path: str, text: str) -> int:
    return next(n for n, line in enumerate(Path(path).read_text().splitlines(), 1) if text in line)


def test_renamed_event_with_breaking_changes_exits_1_until_the_version_is_bumped(
    tmp_path: Path,
) -> None:
    old, new = write(tmp_path / "old.yaml", OLD), write(tmp_path / "new.yaml", NEW)
    code, out, _ = run("plan", "diff", old, new)
    assert code == 1, out
    assert "event_renamed" in out and "type_changed" in out and "required_property_added" in out
    assert "2 breaking" in out
    bumped = write(tmp_path / "bumped.yaml", NEW, version=2)
    code, out, _ = run("plan", "diff", old, bumped)
    assert code == 0, out


def test_json_gives_codes_scope_used_by_and_location(tmp_path: Path) -> None:
    old, new = write(tmp_path / "old.yaml", OLD), write(tmp_path / "new.yaml", NEW)
    code, out, _ = run("plan", "diff", old, new, "--json")
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False and document["breaking"] == 2
    seats = next(c for c in document["changes"] if c["code"] == "type_changed")
    assert seats["path"] == "events.Trial Activated.properties.seats"
    assert seats["scope"] == "event"
    assert seats["used_by"] == seats["impact"] == ["Trial drip"]
    assert seats["location"] == {"file": new, "line": line_of(new, "seats:"), "column": 7}
    code, same, _ = run("plan", "diff", old, new, "--format", "json")
    assert code == 1 and json.loads(same) == document


def test_github_format_annotates_the_changed_lines(tmp_path: Path) -> None:
    old, new = write(tmp_path / "old.yaml", OLD), write(tmp_path / "new.yaml", NEW)
    code, out, _ = run("plan", "diff", old, new, "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    seats = next(line for line in lines if "type_changed" in line)
    assert seats.startswith(f"::error file={new},line={line_of(new, 'seats:')},col=7,")
    region = next(line for line in lines if "required_property_added" in line)
    assert f",line={line_of(new, 'region:')}," in region
    rename = next(line for line in lines if "event_renamed" in line)
    # Compatible, but it touches a workflow: a warning on the event's line.
    assert rename.startswith(f"::warning file={new},line={line_of(new, 'Trial Activated:')},")
    assert lines[-1].startswith(f"::error file={new},line=1,col=1,title=plan diff%3A version")


def test_github_format_names_the_file_of_a_git_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], check=True)
    Path("plans").mkdir()
    write(Path("plans/tracking-plan.yaml"), NEW)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "plan"], check=True)
    write(Path("old.yaml"), OLD)
    code, out, _ = run(
        "plan", "diff", "old.yaml", "git:HEAD:plans/tracking-plan.yaml", "--format", "github"
    )
    assert code == 1
    assert all(
        line.split(" ", 2)[1].startswith("file=plans/tracking-plan.yaml,")
        for line in out.splitlines()
    )


def test_no_breaking_change_exits_0_in_every_format(tmp_path: Path) -> None:
    old = write(tmp_path / "old.yaml", OLD)
    added = {**OLD, "Invite Sent": good_event()}
    new = write(tmp_path / "new.yaml", added)
    for fmt in ("text", "json", "github"):
        code, out, _ = run("plan", "diff", old, new, "--format", fmt)
        assert code == 0, (fmt, out)
    code, out, _ = run("plan", "diff", old, new, "--format", "github")
    assert out.startswith("::notice ") and "event_added" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "xml"), "--format: expected one of text, json, github"),
        (("--json", "--format", "github"), "give one"),
    ],
)
def test_bad_format_options_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    old = write(tmp_path / "old.yaml", OLD)
    code, _, err = run("plan", "diff", old, old, *args)
    assert code == 2 and message in err
