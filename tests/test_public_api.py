"""The public API is declared: a name appearing or vanishing must be noticed here."""

from __future__ import annotations

import trackwell
import trackwell.plan


def test_trackwell_exports() -> None:
    assert sorted(trackwell.__all__) == ["Client", "PlanViolation", "__version__"]
    for name in trackwell.__all__:
        assert getattr(trackwell, name) is not None


def test_plan_exports() -> None:
    assert sorted(trackwell.plan.__all__) == [
        "EventSpec",
        "Plan",
        "PlanLoadError",
        "Policy",
        "PropertySpec",
        "load_plan",
        "parse_plan",
    ]
    for name in trackwell.plan.__all__:
        assert hasattr(trackwell.plan, name)
