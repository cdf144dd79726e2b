"""The import fixtures (written from each tool's documentation) and their expected plans."""

from __future__ import annotations

from pathlib import Path

from trackwell.plan import Plan, parse_plan
from trackwell.plan.dump import dump_plan

IMPORTS = Path(__file__).parent / "data" / "imports"


def fixture_text(tool: str, name: str) -> str:
    """The text of one fixture file of `tool`."""
    return (IMPORTS / tool / name).read_text(encoding="utf-8")


def expected_plan(tool: str) -> Plan:
    """The plan `tool`'s fixture is expected to import to (`expected.yaml`, reviewed by hand)."""
    return parse_plan(fixture_text(tool, "expected.yaml"), f"{tool}/expected.yaml")


def reloaded(plan: Plan) -> Plan:
    """The plan written as YAML and read back with the plan loader (what an import writes)."""
    return parse_plan(dump_plan(plan), "imported.yaml")
