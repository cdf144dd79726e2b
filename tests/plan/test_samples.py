"""Sample values made from a plan pass that plan's own checks (the banner's and the demo's events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import EXAMPLE_PLAN
from tests.quality.helpers import wire
from trackwell.core.messages import from_json, normalise
from trackwell.plan import load_plan
from trackwell.plan.model import PropertySpec
from trackwell.plan.samples import event_properties, example_event, sample_properties, sample_value
from trackwell.quality.check import check_message
from trackwell.quality.compiled import compile_plan

from .helpers import good_event, make_plan

NOW = 1767607200  # 2026-01-05T10:00:00Z
AT = datetime(2026, 1, 5, 10, tzinfo=UTC)


def _verdict(plan: Any, event: str, properties: dict[str, Any]) -> str:
    """The checks' verdict on a track call of `event` (failing on any violation)."""
    message = wire(event=event, properties=properties, timestamp="2026-01-05T09:59:00Z")
    result = check_message(compile_plan(plan), normalise(from_json(message), received_at=AT))
    assert result.violations == [], result.violations
    return result.verdict


@pytest.mark.parametrize("optional", [False, True])
@pytest.mark.parametrize("variant", range(4))
def test_every_example_plan_event_gets_properties_its_checks_accept(
    optional: bool, variant: int
) -> None:
    plan = load_plan(EXAMPLE_PLAN)
    for event in plan.events.values():
        properties = sample_properties(
            event_properties(event), variant=variant, optional=optional, now_s=NOW
        )
        assert properties is not None, event.name
        assert _verdict(plan, event.name, properties) == "accepted", event.name


def test_the_example_event_of_the_example_plan_is_its_first_event_with_required_properties() -> (
    None
):
    assert example_event(load_plan(EXAMPLE_PLAN)) == (
        "Account Created",
        {"plan": "free", "signup_source": "organic"},
    )


def test_a_custom_plan_gets_one_of_its_own_events_with_valid_nested_patterned_and_bounded_values() -> (
    None
):
    plan = make_plan(
        {
            "Report Exported": good_event(
                stage="Engagement",
                properties={
                    "report_code": {
                        "type": "string",
                        "pattern": "^[A-Z]{3}-[0-9]+$",
                        "required": True,
                    },
                    "row_count": {
                        "type": "integer",
                        "minimum": 10,
                        "maximum": 12,
                        "required": True,
                    },
                    "ratio": {"type": "number", "minimum": 0.5, "maximum": 0.75, "required": True},
                    "exported_at": {"type": "timestamp", "required": True},
                    "link": {"type": "string", "format": "uri", "required": True},
                    "short": {"type": "string", "max_length": 2, "required": True},
                    "filters": {
                        "type": "object",
                        "required": True,
                        "properties": {
                            "scope": {"type": "string", "enum": ["all", "mine"], "required": True}
                        },
                    },
                    "tags": {"type": "array", "items": {"type": "string"}, "required": True},
                    "compact": {"type": "boolean", "required": True},
                },
            )
        }
    )
    picked = example_event(plan)
    assert picked is not None and picked[0] == "Report Exported"
    assert _verdict(plan, *picked) == "accepted"
    assert picked[1]["report_code"] == "ABC-123" and picked[1]["filters"] == {"scope": "all"}


def test_an_event_whose_required_pattern_nothing_fits_is_passed_over() -> None:
    plan = make_plan(
        {
            "Alpha Done": good_event(
                properties={"code": {"type": "string", "pattern": "^Z{9}$", "required": True}}
            ),
            "Beta Done": good_event(),
        }
    )
    assert example_event(plan) == ("Beta Done", {"plan_name": "starter"})
    with pytest.raises(ValueError, match="code"):
        sample_value(PropertySpec("code", "string", pattern="^Z{9}$"))


def test_a_versioned_event_gets_its_current_version_s_required_properties() -> None:
    plan = make_plan(
        {
            "Beta Done": good_event(
                versions={
                    "v1": {
                        "deprecated": True,
                        "properties": {"old": {"type": "string", "required": True}},
                    },
                    "v2": {
                        "properties": {"seats": {"type": "integer", "minimum": 1, "required": True}}
                    },
                }
            )
        }
    )
    picked = example_event(plan)
    assert picked == ("Beta Done", {"plan_name": "starter", "seats": 1})
    assert _verdict(plan, *picked) == "accepted"
