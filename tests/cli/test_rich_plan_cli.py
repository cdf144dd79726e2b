"""The richer plan model through `trackwell plan export/import jsonschema` and `plan gen`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from trackwell.cli import app
from trackwell.plan import load_plan

from ..plan.rich import RICH_PLAN

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_rich_plan_exports_every_file_and_imports_back(tmp_path: Path) -> None:
    source = tmp_path / "tracking-plan.yaml"
    source.write_text(RICH_PLAN)
    out_dir = tmp_path / "schemas"
    code, out, err = run("plan", "export", "jsonschema", str(source), "-o", str(out_dir))
    assert code == 0, err
    written = sorted(p.name for p in out_dir.glob("*.json"))
    assert f"Wrote {len(written)} files" in out and len(written) == 8
    assert {"properties.schema.json", "group.schema.json", "page_pricing.schema.json"} <= set(
        written
    )
    target = tmp_path / "imported.yaml"
    code, _, err = run("plan", "import", "jsonschema", str(out_dir), "-o", str(target))
    assert code == 0, err
    assert load_plan(target) == load_plan(source)
    code, out, err = run("plan", "gen", "jsonschema", str(source), "-o", str(out_dir), "--check")
    assert code == 0, err + out


def test_rich_plan_generates_every_target(tmp_path: Path) -> None:
    source = tmp_path / "tracking-plan.yaml"
    source.write_text(RICH_PLAN)
    for target, marker in (
        ("python", "class GroupTraits(TypedDict):"),
        ("typescript", "export type PageMap = {"),
        ("markdown", "## Shared properties"),
    ):
        out = tmp_path / f"out.{target}"
        code, _, err = run("plan", "gen", target, str(source), "-o", str(out))
        assert code == 0, err
        assert marker in out.read_text()
