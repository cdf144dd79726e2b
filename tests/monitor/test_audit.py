"""The schema audit on a history with known clutter, and on a clean one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.monitor.helpers import TODAY, History, at, identify_message, iso
from trackwell.monitor.audit import audit
from trackwell.monitor.audit_markdown import render_markdown
from trackwell.plan import parse_plan

CLEAN_PLAN = """
trackwell: 1
name: Clean
version: 2
traits:
  email: {type: string, required: true}
  created_at: {type: timestamp, required: true}
events:
  Account Created:
    stage: Activation
    description: Signed up.
    used_by: [Welcome email]
    properties:
      plan: {type: string, enum: [free, pro], required: true}
"""


def cluttered(tmp_path: Path) -> History:
    history = History(tmp_path / "audit.db")
    for day in range(TODAY - 29, TODAY + 1):
        history.track(day, 9, "Account Created", 3)
        history.track(day, 9, "Feature Used", 2)
    for day in range(TODAY - 2, TODAY + 1):
        history.track(day, 10, "Signup Completed", 4)  # deprecated, still sent
    history.track(TODAY - 1, 11, "Signed Up", 5)  # an alias
    history.track(TODAY - 1, 11, "Acount Created", 4)  # unplanned
    history.track(TODAY - 40, 11, "Old Thing Happened", 9)  # before the window
    history.track(TODAY - 20, 11, "Acount Creatd", 3)  # fixed since: no longer arriving
    return history


def sample() -> list[dict[str, Any]]:
    moment = iso(at(TODAY, 9))
    messages: list[dict[str, Any]] = []
    for n in range(25):
        messages.append(identify_message(f"s-{n}", at(TODAY, 9)))
        properties = {
            "plan": "free" if n % 2 else "pro",
            "signup_source": "organic",
            "referral_code": "",
        }
        messages.append(
            {
                "type": "track",
                "userId": f"s-{n}",
                "event": "Account Created",
                "properties": properties,
                "timestamp": moment,
            }
        )
    return messages


def test_the_audit_finds_each_kind_of_clutter(tmp_path: Path) -> None:
    history = cluttered(tmp_path)
    try:
        report = audit(history.store, history.compiled, today=TODAY, days=30, sample=sample())
    finally:
        history.close()
    assert [(e.name, e.used_by) for e in report.no_volume] == [("Button Clicked", ())]
    assert [e.name for e in report.unused] == ["Button Clicked", "Feature Used"]
    assert report.low_volume == []
    [unplanned] = report.unplanned
    assert (unplanned.name, unplanned.count, unplanned.probably) == (
        "Acount Created",
        4,
        "Account Created",
    )
    assert report.aliases == {"Account Created": 5}
    deprecations = {d.event: d for d in report.deprecations}
    assert deprecations["Signup Completed"].replacement == "Account Created"
    assert deprecations["Signup Completed"].received == 12
    assert "still sent" in deprecations["Signup Completed"].reason
    assert "deprecate it" in deprecations["Button Clicked"].reason
    kinds = {(p.event, p.property): (p.kind, p.value) for p in report.properties or []}
    assert kinds == {
        ("Account Created", "referral_code"): ("always_empty", None),
        ("Account Created", "signup_source"): ("never_varies", '"organic"'),
    }
    assert report.traits_never_set == ["plan"]
    assert report.days_with_data == 30
    assert not report.clean


def test_the_markdown_has_a_table_per_section(tmp_path: Path) -> None:
    history = cluttered(tmp_path)
    try:
        report = audit(history.store, history.compiled, today=TODAY, days=90, low=100)
    finally:
        history.close()
    text = render_markdown(report)
    assert text.startswith("# Tracking plan audit: Monitor tests (version 1)")
    for heading in (
        "## Planned events that never arrived",
        "## Planned events with low volume",
        "## Planned events no workflow uses",
        "## Unplanned names still arriving",
        "## Old names still sent",
        "## Deprecation",
    ):
        assert heading in text
    assert "| Acount Created | 4 |" in text
    assert "| Signup Completed | deprecated, and still sent" in text
    # The store's own recent messages are the sample: properties and traits were checked.
    assert report.sample_size > 0
    assert "Properties and traits were not checked" not in text
    assert "The store has data for 31 of these 90 days" in text


def test_a_clean_history_has_nothing_to_act_on(tmp_path: Path) -> None:
    history = History(tmp_path / "clean.db", parse_plan(CLEAN_PLAN, "clean.yaml"))
    try:
        for day in range(TODAY - 29, TODAY + 1):
            history.track(day, 9, "Account Created", 30, properties={"plan": "pro"}, identify=True)
        messages = [identify_message(f"c-{n}", at(TODAY, 9)) for n in range(25)]
        messages += [
            {
                "type": "track",
                "userId": f"c-{n}",
                "event": "Account Created",
                "properties": {"plan": ["free", "pro"][n % 2]},
            }
            for n in range(25)
        ]
        report = audit(history.store, history.compiled, today=TODAY, days=30, sample=messages)
    finally:
        history.close()
    assert report.clean
    assert "Nothing to act on" in render_markdown(report)


def test_the_audit_follows_migrations_in_progress(tmp_path: Path) -> None:
    from tests.plan.rich import rich_plan

    history = History(tmp_path / "migrations.db", rich_plan())
    try:
        v1 = {"order_id": "o1", "total": "9.90"}
        v2 = {"order_id": "o2", "total_cents": 990, "currency": "EUR"}
        history.track(TODAY - 1, 9, "Checkout Completed", 4, properties=v1)
        history.track(TODAY - 1, 9, "Checkout Completed", 3, properties=v2)
        renamed = {"workspace_id": "w", "plan": "pro"}
        history.track(TODAY - 1, 10, "Subscription Started", 2, properties=renamed)
        report = audit(history.store, history.compiled, today=TODAY, days=30, sample=[])
    finally:
        history.close()
    assert report.retired_versions == {"Checkout Completed": 4}
    assert report.old_property_names == {"Subscription Started": 2}
    assert not report.clean
    text = render_markdown(report)
    assert "## Migrations still in progress" in text
    assert "| Checkout Completed | 0 | 4 |" in text
    assert "| Subscription Started | 2 | 0 |" in text
