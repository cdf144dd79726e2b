"""`plan lint` and `plan gen` with suppressions, configured severities and lint errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trackwell.cli import app

from ..plan.helpers import GOOD_PROPERTIES, good_event, plan_text

runner = CliRunner()
TWO = {"Account Created": good_event(), "Account Crated": good_event()}
ACCEPT = {
    "code": "near_duplicate",
    "names": ["Account Created", "Account Crated"],
    "reason": "crates of goods",
}


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKWELL_CONFIG", raising=False)
    monkeypatch.delenv("TRACKWELL_PLAN", raising=False)


def write(tmp_path: Path, events: dict[str, Any], **top: Any) -> Path:
    plan = tmp_path / "p.yaml"
    plan.write_text(plan_text(events, **top), encoding="utf-8")
    return plan


def test_suppressed_findings_are_shown_with_their_reason_and_pass(tmp_path: Path) -> None:
    plan = write(tmp_path, TWO, lint={"allow": [ACCEPT]})
    code, out, _ = run("plan", "lint", str(plan))
    assert code == 0
    assert "suppressed error near_duplicate events.Account Crated" in out
    assert "(accepted: crates of goods)" in out and "1 suppressed" in out
    code, out, _ = run("plan", "lint", str(plan), "--json")
    document = json.loads(out)
    assert code == 0 and document["errors"] == 0 and document["suppressed"] == 1
    [finding] = [f for f in document["findings"] if f["code"] == "near_duplicate"]
    assert finding["suppressed"] is True and finding["reason"] == "crates of goods"


def test_strict_fails_on_unsuppressed_warnings_only(tmp_path: Path) -> None:
    quiet = {"code": "missing_description", "path": "events.Trial Started", "reason": "obvious"}
    events = {"Trial Started": good_event(description="")}
    assert (
        run("plan", "lint", str(write(tmp_path, events, lint={"allow": [quiet]})), "--strict")[0]
        == 0
    )
    events["Trial Ended"] = good_event(description="")
    code, out, _ = run(
        "plan", "lint", str(write(tmp_path, events, lint={"allow": [quiet]})), "--strict"
    )
    assert code == 1 and "warning missing_description events.Trial Ended" in out


def test_an_unexplained_suppression_fails(tmp_path: Path) -> None:
    bare = {k: v for k, v in ACCEPT.items() if k != "reason"}
    code, out, _ = run("plan", "lint", str(write(tmp_path, TWO, lint={"allow": [bare]})))
    assert code == 1 and "error suppression_reason lint.allow[0]" in out


def test_configured_severity_applies_to_lint_and_gen(tmp_path: Path) -> None:
    plan = write(tmp_path, TWO)
    (tmp_path / "trackwell.toml").write_text('[lint.severity]\nnear_duplicate = "warning"\n')
    code, out, _ = run("plan", "lint", str(plan))
    assert code == 0 and "warning near_duplicate" in out
    assert run("plan", "lint", str(plan), "--strict")[0] == 1
    assert run("plan", "gen", "python", str(plan), "-o", str(tmp_path / "e.py"))[0] == 0


def test_a_bad_severity_table_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "trackwell.toml").write_text('[lint.severity]\nnear_dupe = "warning"\n')
    code, _, err = run("plan", "lint", str(write(tmp_path, TWO)))
    assert code == 2 and "lint.severity.near_dupe: unknown lint code" in err


@pytest.mark.parametrize("target", ["python", "typescript", "markdown", "jsonschema"])
def test_gen_refuses_a_plan_with_lint_errors(tmp_path: Path, target: str) -> None:
    plan = write(tmp_path, TWO)
    out = tmp_path / "out"
    code, _, err = run("plan", "gen", target, str(plan), "-o", str(out))
    assert code == 1 and not out.exists()
    assert "error near_duplicate events.Account Crated" in err
    assert "1 lint error(s)" in err and "--allow-lint-errors" in err
    code, _, _ = run("plan", "gen", target, str(plan), "-o", str(out), "--allow-lint-errors")
    assert code == 0 and out.exists()


def test_gen_accepts_suppressed_errors(tmp_path: Path) -> None:
    plan = write(tmp_path, TWO, lint={"allow": [ACCEPT]})
    assert run("plan", "gen", "python", str(plan), "-o", str(tmp_path / "e.py"))[0] == 0


def test_gen_leaves_sensitive_properties_out_of_typed_code(tmp_path: Path) -> None:
    properties = {
        **GOOD_PROPERTIES,
        "card_number": {"type": "string"},
        "billing": {"type": "object", "properties": {"cvv": {"type": "string"}}},
    }
    event = good_event(properties=properties)
    accept = [
        {
            "code": "sensitive_property",
            "path": f"events.Payment Added.properties.{p}",
            "reason": "r",
        }
        for p in ("card_number", "billing.properties.cvv")
    ]
    plan = write(tmp_path, {"Payment Added": event}, lint={"allow": accept})
    for target, name in (("python", "e.py"), ("typescript", "e.ts"), ("markdown", "e.md")):
        code, _, err = run("plan", "gen", target, str(plan), "-o", str(tmp_path / name))
        assert code == 0, err
    python = (tmp_path / "e.py").read_text()
    typescript = (tmp_path / "e.ts").read_text()
    for text, marker in ((python, "#"), (typescript, "//")):
        assert f"{marker} Left out: lint calls these properties sensitive" in text
        # Lint's paths, as `lint.allow` takes them.
        assert f"{marker}   {accept[0]['path']} (a card number)" in text
        assert f"{marker}   {accept[1]['path']} (a card security code)" in text
        body = "\n".join(line for line in text.splitlines() if not line.startswith(marker))
        assert "card_number" not in body and "cvv" not in body
        assert "plan_price_cents" in body and "billing" in body
    markdown = (tmp_path / "e.md").read_text()
    assert "| `card_number` |" in markdown and "| `billing.cvv` |" in markdown
    assert "**Sensitive (a card number): never send it; left out of generated code.**" in markdown
