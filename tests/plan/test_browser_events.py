"""`browser: true`: the events a plan lets anonymous-only browser keys send, through every tool."""

from __future__ import annotations

import pytest

from trackwell.plan import PlanLoadError, parse_plan
from trackwell.plan.diff import diff_plans
from trackwell.plan.dump import dump_plan
from trackwell.plan.jsonschema import export_plan, import_documents
from trackwell.plan.lint import lint_plan

from .helpers import good_event, make_plan, plan_text


def test_the_flag_is_read_dumped_and_exported() -> None:
    plan = make_plan({"Pricing Viewed": good_event(browser=True), "Order Paid": good_event()})
    assert plan.browser_events() == frozenset({"Pricing Viewed"})
    assert plan.events["Order Paid"].browser is False
    assert "browser: true" in dump_plan(plan) and parse_plan(dump_plan(plan)) == plan
    documents = export_plan(plan)
    schema = next(d for n, d in documents.items() if n.startswith("pricing"))
    assert schema["x-trackwell"]["browser"] is True
    imported, report = import_documents(documents)
    assert report.notes == [] and imported.browser_events() == frozenset({"Pricing Viewed"})


def test_a_flag_that_is_not_a_boolean_is_an_error_with_line_and_column() -> None:
    text = plan_text({"Pricing Viewed": good_event(browser="yes please")})
    with pytest.raises(PlanLoadError) as info:
        parse_plan(text, "tracking-plan.yaml")
    message = str(info.value)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "browser:" in row)
    assert message.startswith(f"tracking-plan.yaml:{line}:")
    assert "browser" in message and "true or false" in message


def test_lint_warns_of_a_browser_event_that_names_people() -> None:
    props = {"email": {"type": "string"}, "plan_name": {"type": "string"}}
    plan = make_plan({"Pricing Viewed": good_event(browser=True, properties=props)})
    found = [f for f in lint_plan(plan) if f.code == "browser_identity_property"]
    assert [(f.path, f.severity) for f in found] == [
        ("events.Pricing Viewed.properties.email", "warning")
    ]
    assert not [
        f
        for f in lint_plan(make_plan({"X Done": good_event(properties=props)}))
        if f.code == "browser_identity_property"
    ]


def test_diff_taking_the_flag_away_is_breaking_and_giving_it_compatible() -> None:
    closed = make_plan({"Pricing Viewed": good_event()})
    opened = make_plan({"Pricing Viewed": good_event(browser=True)})
    given = [c for c in diff_plans(closed, opened).changes if c.code == "browser_allowed"]
    taken = [c for c in diff_plans(opened, closed).changes if c.code == "browser_disallowed"]
    assert [c.kind for c in given] == ["compatible"] and [c.kind for c in taken] == ["breaking"]
