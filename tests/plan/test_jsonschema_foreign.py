"""Foreign JSON Schemas import: local `$ref`s (`$defs`, `definitions`) resolved with cycles
stopped, number-or-string times read as timestamps, and reports that say what a schema had."""

from __future__ import annotations

import json

from trackwell.plan.jsonschema import (
    ImportReport,
    export_plan,
    import_directory,
    import_documents,
    property_from_schema,
)

from .imports import IMPORTS, expected_plan, reloaded

EVENT = "events.Checkout Completed.properties"


def test_refs_resolve_to_the_expected_plan() -> None:
    plan, _ = import_directory(IMPORTS / "jsonschema")
    assert plan == expected_plan("jsonschema")
    event = plan.events["Checkout Completed"]
    total = event.property("total")
    assert total is not None and total.minimum == 0 and total.description == "What was paid."
    shipping = event.property("shipping")
    assert shipping is not None
    country = shipping.child("country")
    assert country is not None and country.enum == ("DE", "FR")  # through #/definitions/


def test_report_is_exact_and_never_says_type_none() -> None:
    _, report = import_directory(IMPORTS / "jsonschema")
    assert report.notes == [
        "plan.json: no manifest: plan name, version, stages and policy set to defaults",
        f"{EVENT}.placed_at: number-or-string read as timestamp: it is described as a time",
        f"{EVENT}.tree.child: $ref '#/$defs/node' is a cycle (#/$defs/node -> #/$defs/node);"
        " property skipped",
        f"{EVENT}.anything: a schema without 'type', 'enum', '$ref' or 'anyOf' (any value) cannot"
        " be expressed as one plan type; property skipped",
        f"{EVENT}.flag_or_text: type ['string', 'boolean'] cannot be expressed as one plan type;"
        " property skipped",
        f"{EVENT}.elsewhere: $ref 'https://example.com/schemas/money.json' does not point into"
        " this document's $defs or definitions; skipped",
    ]
    assert not any("None" in note for note in report.notes)


def test_number_or_string_times_are_timestamps() -> None:
    cases = {
        "when": {"type": ["number", "string"], "format": "date-time"},
        "created_at": {"type": ["string", "number"]},
        "moment": {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "Unix time"},
        "paid": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]},
    }
    for name, schema in cases.items():
        spec = property_from_schema(name, schema, False, name, ImportReport())
        assert spec is not None and spec.type == "timestamp", name
    report = ImportReport()
    assert property_from_schema("count", {"type": ["number", "string"]}, False, "c", report) is None
    assert report.notes == [
        "c: type ['number', 'string'] cannot be expressed as one plan type; property skipped"
    ]


def test_mutual_cycle_is_reported_with_its_chain() -> None:
    schema = {
        "title": "Tree",
        "type": "object",
        "properties": {"root": {"$ref": "#/definitions/a"}},
        "definitions": {
            "a": {"type": "object", "properties": {"b": {"$ref": "#/definitions/b"}}},
            "b": {"type": "object", "properties": {"a": {"$ref": "#/definitions/a"}}},
        },
    }
    plan, report = import_documents({"tree.json": schema})
    root = plan.events["Tree"].property("root")
    assert root is not None and root.child("b") is not None
    assert report.notes[-1] == (
        "events.Tree.properties.root.b.a: $ref '#/definitions/a' is a cycle"
        " (#/definitions/a -> #/definitions/b -> #/definitions/a); property skipped"
    )


def test_foreign_import_round_trips_through_yaml_and_json_schema() -> None:
    plan, _ = import_directory(IMPORTS / "jsonschema")
    assert reloaded(plan) == plan
    again, report = import_documents(json.loads(json.dumps(export_plan(plan))))
    assert report.notes == []
    assert again == plan
