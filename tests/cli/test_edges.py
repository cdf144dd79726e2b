"""The command line's edges, held for every command: `--plan` wherever a plan is read, `-o -`
for standard output, `--limit` at least 1, no `<bool>` in help, and piped tables kept whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trackwell
from trackwell.cli import app
from trackwell.codegen import generate_markdown, generate_python, generate_typescript
from trackwell.pipeline.audit import record
from trackwell.plan import load_plan
from trackwell.store import open_store

from ..conftest import EXAMPLE_PLAN
from .commands import leaves, option_names, options, walk

runner = CliRunner()
# Every command that reads the tracking plan (the gateway and the router read it too).
PLAN_READERS = (
    "check",
    "monitor",
    "parity",
    "audit",
    "why",
    "route",
    "backfill",
    "serve",
    "plan lint",
    "plan gen",
    "plan export jsonschema",
)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_every_command_that_reads_a_plan_takes_plan() -> None:
    commands = {" ".join(path): command for path, command in leaves()}
    missing = [name for name in PLAN_READERS if "--plan" not in option_names(commands[name])]
    assert missing == []


def test_a_help_that_names_plan_belongs_to_a_command_that_takes_it() -> None:
    untrue = []
    for path, command in leaves():
        helps = " ".join(str(p.help or "") for p in command.params if hasattr(p, "help"))
        if "--plan" in helps and "--plan" not in option_names(command):
            untrue.append(" ".join(path))
    assert untrue == []


def test_plan_lint_gen_and_export_take_plan(tmp_path: Path) -> None:
    code, out, err = run("plan", "lint", "--plan", str(EXAMPLE_PLAN))
    assert code == 0, err
    assert "Acme Projects v3" in out
    code, out, err = run("plan", "gen", "python", "--plan", str(EXAMPLE_PLAN), "-o", "-")
    assert code == 0, err
    assert out == generate_python(load_plan(EXAMPLE_PLAN))
    schemas = tmp_path / "schemas"
    code, _, err = run(
        "plan", "export", "jsonschema", "--plan", str(EXAMPLE_PLAN), "-o", str(schemas)
    )
    assert code == 0, err
    assert (schemas / "traits.schema.json").is_file()
    # The positional form stays; the same plan twice is fine, two different ones are not.
    code, _, _ = run("plan", "lint", str(EXAMPLE_PLAN), "--plan", str(EXAMPLE_PLAN))
    assert code == 0
    code, _, err = run("plan", "lint", str(EXAMPLE_PLAN), "--plan", str(tmp_path / "other.yaml"))
    assert code == 2 and "two plans given" in err


def test_dash_out_writes_standard_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where a file named "-" would land
    plan = load_plan(EXAMPLE_PLAN)
    code, out, err = run("plan", "gen", "typescript", str(EXAMPLE_PLAN), "-o", "-")
    assert code == 0, err
    assert out == generate_typescript(plan)  # the code alone, no "Wrote ..." line
    code, out, err = run("plan", "gen", "markdown", str(EXAMPLE_PLAN), "-o", "-")
    assert code == 0, err
    assert out == generate_markdown(plan)
    schemas = tmp_path / "schemas"
    run("plan", "export", "jsonschema", str(EXAMPLE_PLAN), "-o", str(schemas))
    code, out, err = run("plan", "import", "jsonschema", str(schemas), "-o", "-")
    assert code == 0, err
    assert "Account Created:" in out and not Path("-").exists()


def test_dash_out_is_refused_where_several_files_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (
        ("plan", "export", "jsonschema", str(EXAMPLE_PLAN), "-o", "-"),
        ("plan", "gen", "jsonschema", str(EXAMPLE_PLAN), "-o", "-"),
    ):
        code, _, err = run(*args)
        assert code == 2 and "directory" in err, args
    code, _, err = run("plan", "gen", "python", str(EXAMPLE_PLAN), "-o", "-", "--check")
    assert code == 2 and "--check" in err
    assert not Path("-").exists()


def test_every_limit_is_at_least_one() -> None:
    found = []
    for path, command in leaves():
        for option in options(command):
            if "--limit" in option.opts:
                found.append(" ".join(path))
                assert option.min == 1, path
    assert {"timeline", "why", "privacy list", "audit-log"} <= set(found)


@pytest.mark.parametrize(
    "args", [("audit-log",), ("privacy", "list"), ("timeline", "someone"), ("why", "someone")]
)
@pytest.mark.parametrize("limit", ["-1", "0"])
def test_a_limit_below_one_is_a_usage_error(args: tuple[str, ...], limit: str) -> None:
    code, _, err = run(*args, "--limit", limit)
    assert code == 2
    assert "--limit" in err


def test_no_help_shows_a_bool_placeholder() -> None:
    shown = []
    for path, _ in [((), None), *walk()]:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, path
        if "<bool>" in result.output or "BOOLEAN" in result.output:
            shown.append(" ".join(path))
    assert shown == []


def test_every_boolean_option_is_a_flag() -> None:
    # A bool that is not a flag takes a value on the command line and shows `<bool>`.
    valued = [
        f"{' '.join(path)} {option.opts[0]}"
        for path, command in leaves()
        for option in options(command)
        if option.type_descriptor.annotation in (bool, bool | None) and not option.is_flag
    ]
    assert valued == []


def test_a_piped_table_keeps_long_values_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    target = "destination-" + "x" * 150
    store = open_store(url)
    try:
        record(store, "cli:test", "replay", target, {"messages": 3})
    finally:
        store.close()
    # The trackwell under test, wherever it is imported from; 80 columns asked for, not a tty.
    source = Path(trackwell.__file__).resolve().parents[1]
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(source)}
    done = subprocess.run(
        [sys.executable, "-m", "trackwell", "audit-log", "--store", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [row] = [line for line in done.stdout.splitlines() if "cli:test" in line]
    assert target in row and "messages=3" in row


def test_a_piped_audit_is_its_plain_markdown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    open_store(url).close()
    source = Path(trackwell.__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "trackwell", "audit", "--plan", str(EXAMPLE_PLAN), "--store", url],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", "PYTHONPATH": str(source)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Tracking plan audit: Acme Projects")
    assert "\n## Planned events that never arrived" in done.stdout
