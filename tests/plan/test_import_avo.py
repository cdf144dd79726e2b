"""Avo's tracking plan export (JSON Schema per event) imports with a report of the rest."""

from __future__ import annotations

import json

import pytest

from trackwell.plan.avo import import_avo
from trackwell.plan.jsonschema import SchemaImportError

from .imports import expected_plan, fixture_text, reloaded


def export() -> object:
    return json.loads(fixture_text("avo", "export.json"))


def test_export_imports_to_the_expected_plan() -> None:
    plan, _ = import_avo(export())
    assert plan == expected_plan("avo")
    event = plan.events["Debugger Started"]
    assert event.description == "Sent when the web debugger is started."
    started = event.property("started_at")
    assert started is not None and started.type == "timestamp"


def test_export_report_is_exact() -> None:
    _, report = import_avo(export())
    assert report.notes == [
        "events[0].tags: has no equivalent in a trackwell plan; dropped",
        "events[0].categories: has no equivalent in a trackwell plan; dropped",
        "events[0].sources: has no equivalent in a trackwell plan; dropped",
        "events[0].rules.properties.properties.properties.session_length.nameMapping:"
        " per-destination names are not planned; dropped",
        "events[0].rules.properties.properties.properties.started_at: number-or-string read as"
        " timestamp: it is described as a time",
        "events[0].rules.properties.properties.properties.config: anyOf of 'object', 'string'"
        " cannot be expressed as one plan type; property skipped",
        "events.Debugger Started: Avo has no lifecycle stage; set 'stage' by hand",
        "events.Workspace Created: Avo has no lifecycle stage; set 'stage' by hand",
        "sources: Avo workspace data, not part of a plan; dropped",
        "destinations: Avo workspace data, not part of a plan; dropped",
    ]


def test_export_round_trips_through_yaml() -> None:
    plan, _ = import_avo(export())
    assert reloaded(plan) == plan


@pytest.mark.parametrize("document", [[], {"name": "x"}, {"events": {}}])
def test_not_an_avo_export(document: object) -> None:
    with pytest.raises(SchemaImportError):
        import_avo(document)
