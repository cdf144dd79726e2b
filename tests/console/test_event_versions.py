"""The console's property table of an event with versions: every version's properties are
planned, each tagged with its version."""

from __future__ import annotations

from trackwell.console.events import properties
from trackwell.quality import compile_plan

from ..plan.rich import rich_plan


def test_version_properties_are_planned_and_tagged() -> None:
    rows = properties(compile_plan(rich_plan()), "Checkout Completed", [])
    assert [(r["name"], r["planned"], r["version"], r["type"]) for r in rows] == [
        ("order_id", True, None, "string"),
        ("total", True, "v1", "string"),
        ("total_cents", True, "v2", "integer"),
        ("currency", True, "v2", "string"),
    ]
    plain = properties(compile_plan(rich_plan()), "Subscription Started", [])
    assert all(r["version"] is None and r["planned"] for r in plain)
