"""JSON Schema export and import: valid draft 2020-12, and round trips that lose nothing."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from trackwell.plan import Plan, parse_plan
from trackwell.plan.dump import dump_plan
from trackwell.plan.jsonschema import (
    MANIFEST,
    TRAITS_FILE,
    SchemaImportError,
    export_plan,
    import_directory,
    import_documents,
)

from .helpers import good_event, make_plan

EDGE_PLAN = make_plan(
    {
        "Order Completed": good_event(
            owner="growth",
            since=2,
            used_by=["Receipt"],
            aliases=["Order Done"],
            browser=True,
            properties={
                "total": {"type": "number", "minimum": 0.5, "maximum": 1e6, "description": "Total"},
                "coupon": {
                    "type": "string",
                    "nullable": True,
                    "enum": ["A", "B"],
                    "pattern": "^[A-Z]$",
                },
                "placed_at": {"type": "timestamp", "required": True, "nullable": True},
                "email": {"type": "string", "format": "email", "max_length": 100},
                "gift": "boolean",
                "address": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "required": True}, "zip": "string"},
                },
                "lines": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"sku": "string", "qty": "integer"}},
                },
            },
        ),
        "Order Placed": good_event(deprecated=True, replaced_by="Order Completed", properties=None),
        "order_completed": good_event(description="collides with Order Completed when slugged"),
    },
    pages=["Pricing"],
    screens=["Home"],
    stages=["Expansion", "Churn"],
    policy={"unplanned_event": "allow", "sensitive_data": "block"},
    conventions={"event_case": "title", "property_case": "snake"},
)


@pytest.mark.parametrize("plan_name", ["example", "edge"])
def test_round_trip_through_json_schema_loses_nothing(plan_name: str, example_plan: Plan) -> None:
    plan = example_plan if plan_name == "example" else EDGE_PLAN
    documents = json.loads(json.dumps(export_plan(plan)))
    imported, report = import_documents(documents)
    assert report.notes == []
    assert imported == plan


@pytest.mark.parametrize("plan_name", ["example", "edge"])
def test_round_trip_through_yaml_loses_nothing(plan_name: str, example_plan: Plan) -> None:
    plan = example_plan if plan_name == "example" else EDGE_PLAN
    assert parse_plan(dump_plan(plan)) == plan


def test_exported_schemas_are_valid_draft_2020_12_and_validate_events(example_plan: Plan) -> None:
    files = export_plan(example_plan)
    validator_cls = jsonschema.Draft202012Validator
    for name, document in files.items():
        if name == MANIFEST:
            continue
        validator_cls.check_schema(document)
    started = files["subscription_started.schema.json"]
    validator = validator_cls(started, format_checker=validator_cls.FORMAT_CHECKER)
    good = {"plan_name": "pro", "plan_price_cents": 19900, "billing_period": "monthly"}
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors({**good, "plan_price_cents": "199"}))
    assert list(validator.iter_errors({"plan_name": "pro"}))  # missing required
    traits = validator_cls(files[TRAITS_FILE], format_checker=validator_cls.FORMAT_CHECKER)
    assert list(traits.iter_errors({"email": "a@b.co", "created_at": 1700000000})) == []
    assert list(traits.iter_errors({"email": "a@b.co", "created_at": "2024-01-01T00:00:00Z"})) == []


def test_colliding_names_get_distinct_files() -> None:
    names = [n for n in export_plan(EDGE_PLAN) if n.endswith(".schema.json")]
    assert len(names) == len(set(names)) == 4  # three events and the traits


def test_foreign_schemas_import_with_a_report(tmp_path: Path) -> None:
    (tmp_path / "checkout.json").write_text(
        json.dumps(
            {
                "title": "Checkout Started",
                "type": "object",
                "properties": {
                    "cart_id": {"type": "string"},
                    "value": {"type": ["integer", "number"], "exclusiveMinimum": 0},
                    "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                },
                "required": ["cart_id"],
                "patternProperties": {"^x_": {}},
            }
        )
    )
    plan, report = import_directory(tmp_path)
    event = plan.events["Checkout Started"]
    assert [p.name for p in event.properties] == ["cart_id", "value", "tags"]
    assert event.properties[0].required
    notes = "\n".join(report.notes)
    assert "exclusiveMinimum" in notes
    assert "choice: oneOf of 'string', 'integer' cannot be expressed as one plan type" in notes
    assert "minItems" in notes
    assert "patternProperties" in notes
    assert "no manifest" in notes


def test_import_errors(tmp_path: Path) -> None:
    with pytest.raises(SchemaImportError, match="not a directory"):
        import_directory(tmp_path / "missing")
    with pytest.raises(SchemaImportError, match=r"no \*\.json files"):
        import_directory(tmp_path)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(SchemaImportError, match=r"bad\.json: not valid JSON"):
        import_directory(tmp_path)
