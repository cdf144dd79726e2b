"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackwell.plan import Plan, load_plan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLAN = ROOT / "examples" / "saas" / "tracking-plan.yaml"


@pytest.fixture(scope="session")
def example_plan() -> Plan:
    """The SaaS example plan shipped in examples/."""
    return load_plan(EXAMPLE_PLAN)
