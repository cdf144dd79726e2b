"""Small plans written as YAML text, for tests that need one defect at a time."""

from __future__ import annotations

import textwrap
from typing import Any

import yaml

from trackwell.plan import Plan, parse_plan

GOOD_PROPERTIES: dict[str, Any] = {
    "plan_name": {"type": "string", "enum": ["starter", "pro"], "required": True},
    "plan_price_cents": {"type": "integer", "minimum": 0},
    "billing_period": {"type": "string", "enum": ["monthly", "annual"]},
}


def good_event(**overrides: Any) -> dict[str, Any]:
    """An event that lints clean; override any key."""
    event: dict[str, Any] = {
        "stage": "Expansion",
        "description": "The workspace started paying.",
        "backfill": "new-only",
        "properties": dict(GOOD_PROPERTIES),
    }
    event.update(overrides)
    return event


def plan_text(events: dict[str, Any] | None = None, **top: Any) -> str:
    """YAML text of a small valid plan with the given events and top-level keys."""
    doc: dict[str, Any] = {
        "trackwell": 1,
        "name": "Test",
        "version": 1,
        "traits": {
            "email": {"type": "string", "format": "email"},
            "created_at": {"type": "timestamp"},
        },
        "events": events if events is not None else {"Subscription Started": good_event()},
    }
    doc.update(top)
    return yaml.safe_dump(doc, sort_keys=False)


def make_plan(events: dict[str, Any] | None = None, **top: Any) -> Plan:
    """A parsed plan built from `plan_text`."""
    return parse_plan(plan_text(events, **top), "test-plan.yaml")


def dedent(text: str) -> str:
    """Dedented YAML text for tests that care about exact lines."""
    return textwrap.dedent(text).lstrip("\n")
