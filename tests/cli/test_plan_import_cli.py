"""`trackwell plan import <tool>` for every importer: the fixture becomes a plan file that
the loader reads back to the same plan, and what was not mapped goes to standard error."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwell.plan import load_plan

from ..plan.imports import IMPORTS, expected_plan
from .test_plan_cli import run

SOURCES = {
    "segment": ["segment/get-tracking-plan.json", "segment/list-rules.json"],
    "rudderstack": ["rudderstack/v0.1"],
    "avo": ["avo/export.json"],
    "amplitude-csv": ["amplitude/events.csv", "amplitude/user_properties.csv"],
    "mixpanel-csv": ["mixpanel/lexicon.csv"],
}
EXPECTED = {"amplitude-csv": "amplitude", "mixpanel-csv": "mixpanel"}


@pytest.mark.parametrize("tool", list(SOURCES))
def test_import_writes_a_plan_that_loads(tool: str, tmp_path: Path) -> None:
    target = tmp_path / "tracking-plan.yaml"
    sources = [str(IMPORTS / source) for source in SOURCES[tool]]
    code, _, err = run("plan", "import", tool, *sources, "-o", str(target))
    assert code == 0, err
    assert load_plan(target) == expected_plan(EXPECTED.get(tool, tool))
    assert "not mapped:" in err and f"Wrote {target}" in err


def test_import_errors_name_the_file(tmp_path: Path) -> None:
    code, _, err = run("plan", "import", "avo", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed\n")
    code, _, err = run("plan", "import", "rudderstack", str(bad))
    assert code == 2 and "not valid YAML" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run("plan", "import", "rudderstack", str(empty))
    assert code == 2 and "no *.yaml files" in err
    csv = tmp_path / "plan.csv"
    csv.write_text("a,b\n1,2\n")
    code, _, err = run("plan", "import", "mixpanel-csv", str(csv))
    assert code == 2 and "no entity column" in err
