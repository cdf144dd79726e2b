"""Importing Segment Protocols tracking plans."""

from __future__ import annotations

from typing import Any

import pytest

from trackwell.plan import parse_plan
from trackwell.plan.dump import dump_plan
from trackwell.plan.jsonschema import SchemaImportError
from trackwell.plan.segment import import_segment

CONFIG_API: dict[str, Any] = {
    "name": "workspaces/acme/tracking-plans/rs_1",
    "display_name": "Acme Web",
    "rules": {
        "global": {"properties": {"context": {"properties": {"ip": {"type": "string"}}}}},
        "events": [
            {
                "name": "Order Completed",
                "description": "Checkout finished.",
                "version": 1,
                "rules": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {
                        "context": {},
                        "traits": {},
                        "properties": {
                            "type": "object",
                            "properties": {
                                "order_id": {"type": "string", "description": "Order id"},
                                "total": {"type": "number", "minimum": 0},
                                "currency": {"type": "string", "enum": ["USD", "EUR"]},
                                "coupon": {"type": ["string", "null"]},
                                "products": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {"sku": {"type": "string"}},
                                    },
                                },
                                "weird": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                            },
                            "required": ["order_id", "total"],
                        },
                    },
                    "required": ["properties"],
                },
            },
            {"description": "no name"},
        ],
        "identify": {
            "properties": {
                "traits": {
                    "type": "object",
                    "properties": {
                        "email": {"type": "string", "format": "email"},
                        "plan": {"type": "string"},
                    },
                    "required": ["email"],
                }
            }
        },
    },
}


def test_config_api_export_maps_events_and_traits_and_reports_the_rest() -> None:
    plan, report = import_segment(CONFIG_API)
    assert plan.name == "Acme Web"
    event = plan.events["Order Completed"]
    assert event.description == "Checkout finished."
    props = {p.name: p for p in event.properties}
    assert props["order_id"].required and props["total"].minimum == 0
    assert props["currency"].enum == ("USD", "EUR")
    assert props["coupon"].nullable
    assert (
        props["products"].items is not None and props["products"].items.properties[0].name == "sku"
    )
    assert "weird" not in props
    assert [t.name for t in plan.traits] == ["email", "plan"]
    assert plan.traits[0].required and plan.traits[0].format == "email"
    notes = "\n".join(report.notes)
    assert "weird" in notes
    assert "rules.global" in notes
    assert "rules.events[1]" in notes
    assert "no lifecycle stage" in notes
    # What we write loads with the plan loader.
    assert parse_plan(dump_plan(plan)) == plan


def test_public_api_rules_list() -> None:
    document = {
        "trackingPlan": {
            "name": "Mobile",
            "rules": [
                {
                    "type": "TRACK",
                    "key": "Song Played",
                    "jsonSchema": {
                        "properties": {
                            "properties": {"properties": {"song_id": {"type": "string"}}}
                        }
                    },
                },
                {
                    "type": "IDENTIFY",
                    "jsonSchema": {
                        "properties": {"traits": {"properties": {"age": {"type": "integer"}}}}
                    },
                },
                {"type": "GROUP", "jsonSchema": {}},
            ],
        }
    }
    plan, report = import_segment(document)
    assert list(plan.events) == ["Song Played"]
    assert plan.traits[0].name == "age" and plan.traits[0].type == "integer"
    # A group rule plans the group call's traits (here none), it is no longer dropped.
    assert plan.group_traits == ()
    assert not any("GROUP" in n for n in report.notes)


@pytest.mark.parametrize("document", [[], {"name": "x"}, {"rules": 3}])
def test_not_a_segment_plan(document: Any) -> None:
    with pytest.raises(SchemaImportError):
        import_segment(document)
