"""JSON Schema export and import of the richer model: shared properties as `$defs` + `$ref`,
page/screen/group schemas, versions as `anyOf`; every round trip gives the same plan."""

from __future__ import annotations

import json

import jsonschema_rs

from trackwell.plan import parse_plan
from trackwell.plan.dump import dump_plan
from trackwell.plan.jsonschema import (
    GROUP_FILE,
    MANIFEST,
    PROPERTIES_FILE,
    export_plan,
    import_documents,
)

from .rich import rich_plan


def errors(schema: dict[str, object], instance: dict[str, object]) -> list[str]:
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    return [e.message for e in validator.iter_errors(instance)]


def test_rich_plan_round_trips_through_json_schema() -> None:
    plan = rich_plan()
    documents = json.loads(json.dumps(export_plan(plan)))
    imported, report = import_documents(documents)
    assert report.notes == []
    assert imported == plan
    assert parse_plan(dump_plan(imported)) == plan


def test_shared_properties_are_defs_and_refs() -> None:
    files = export_plan(rich_plan())
    manifest = files[MANIFEST]
    assert manifest["properties"] == PROPERTIES_FILE and manifest["group"] == GROUP_FILE
    library = files[PROPERTIES_FILE]
    assert set(library["$defs"]) == {"plan_name", "workspace_id"}
    started = files["subscription_started.schema.json"]
    assert started["properties"]["plan_name"] == {"$ref": "#/$defs/plan_name"}
    # Each file carries the definitions it uses, so it validates on its own.
    assert set(started["$defs"]) == {"plan_name", "workspace_id"}
    assert started["$defs"]["plan_name"]["x-trackwell"] == {"aliases": ["plan"]}
    pricing = files[manifest["page_schemas"][0]]
    assert pricing["properties"]["plan_name"]["description"] == "The plan whose column was open."


def test_exported_rich_schemas_are_valid_and_validate_messages() -> None:
    files = export_plan(rich_plan())
    for name, document in files.items():
        if name != MANIFEST:
            assert jsonschema_rs.meta.is_valid(document), name
    started = files["subscription_started.schema.json"]
    assert errors(started, {"workspace_id": "w1", "plan_name": "pro"}) == []
    assert errors(started, {"workspace_id": "w1", "plan_name": "gold"})
    assert errors(started, {"plan_name": "pro"})  # the definition's required flag
    checkout = files["checkout_completed.schema.json"]
    assert errors(checkout, {"order_id": "o1", "total": "9.90"}) == []
    assert errors(checkout, {"order_id": "o1", "total_cents": 990, "currency": "EUR"}) == []
    # Mixing the versions, or a key of neither, matches no version.
    assert errors(checkout, {"order_id": "o1", "total": "9.90", "currency": "EUR"})
    assert errors(checkout, {"order_id": "o1", "total_cents": 990, "currency": "GBP"})
    assert errors(checkout, {"total": "9.90"})
    group = files[GROUP_FILE]
    assert errors(group, {"workspace_name": "Acme", "seats": 3}) == []
    assert errors(group, {"workspace_name": "Acme", "seats": 0})
    pricing = files["page_pricing.schema.json"]
    # A page's reserved properties (url, path, ...) stay allowed.
    assert errors(pricing, {"url": "https://x.test/pricing", "billing_period": "annual"}) == []
    assert errors(pricing, {"billing_period": "weekly"})


def test_plans_without_the_new_parts_export_as_before() -> None:
    files = export_plan(parse_plan("trackwell: 1\nname: T\nversion: 1\nevents: {A: null}\n"))
    assert set(files) == {MANIFEST, "traits.schema.json", "a.schema.json"}
    assert set(files[MANIFEST]) == {
        "trackwell", "name", "version", "conventions", "stages", "policy", "pages", "screens",
        "traits", "events",
    }  # fmt: skip


def test_foreign_local_defs_are_copied_in_place() -> None:
    documents = {
        "checkout.json": {
            "title": "Checkout Started",
            "type": "object",
            "$defs": {"money": {"type": "integer", "minimum": 0}},
            "properties": {"total": {"$ref": "#/$defs/money"}, "bad": {"$ref": "other.json"}},
            "required": ["total"],
        }
    }
    plan, report = import_documents(documents)
    total = plan.events["Checkout Started"].property("total")
    assert total is not None and total.type == "integer" and total.minimum == 0
    assert total.required and total.shared is None
    assert any("bad: $ref 'other.json'" in note for note in report.notes)


def test_a_property_level_any_of_is_still_reported() -> None:
    documents = {
        "a.json": {
            "title": "A",
            "type": "object",
            "properties": {"x": {"type": "string", "anyOf": [{"minLength": 1}]}},
        }
    }
    _, report = import_documents(documents)
    assert any("x: 'anyOf' has no equivalent" in note for note in report.notes)
