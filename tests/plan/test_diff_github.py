"""`plan diff --format github`: workflow commands, their levels and their escaping; the\ndocumented list of diff codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trackwell.plan.diff import CODES, Change, PlanDiff
from trackwell.plan.diff_github import annotation, escape_data, escape_property, github_annotations
from trackwell.plan.model import Location

BREAKING = Change(
    "breaking",
    "type_changed",
    "events.A, B.properties.seats",
    "'seats': type changed from integer to number",
    ("Paid welcome",),
    "event",
    Location("plans/tracking-plan.yaml", 12, 7),
)
README = Path(__file__).resolve().parents[2] / "README.md"
ADDED = Change("compatible", "event_added", "events.C", "event 'C' added", scope="event")


def test_escaping_follows_githubs_toolkit() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    # `%` goes first, so an escape is never escaped twice.
    assert escape_property("%3A") == "%253A"


def test_breaking_without_bump_is_an_error_on_the_changed_line() -> None:
    diff = PlanDiff(1, 1, (BREAKING,))
    assert annotation(BREAKING, diff, "plans/tracking-plan.yaml") == (
        "::error file=plans/tracking-plan.yaml,line=12,col=7,"
        "title=plan diff%3A breaking type_changed::"
        "events.A, B.properties.seats: 'seats': type changed from integer to number"
        " (used by: Paid welcome)"
    )


def test_levels_and_summary() -> None:
    failing = github_annotations(PlanDiff(1, 1, (BREAKING, ADDED)), "p.yaml")
    assert [line.split(" ", 1)[0] for line in failing] == ["::error", "::notice", "::error"]
    assert failing[1].startswith("::notice file=p.yaml,line=1,col=1,")  # no place: line 1
    assert "set version above 1" in failing[2]
    bumped = github_annotations(PlanDiff(1, 2, (BREAKING, ADDED)), "p.yaml")
    assert [line.split(" ", 1)[0] for line in bumped] == ["::warning", "::notice"]


def test_file_names_with_commas_and_colons_are_escaped() -> None:
    (line,) = github_annotations(PlanDiff(1, 1, (ADDED,)), "C:/plans,v2.yaml")
    assert line.startswith("::notice file=C%3A/plans%2Cv2.yaml,line=1,col=1,")


def test_readme_lists_every_diff_code_and_no_other() -> None:
    section = README.read_text(encoding="utf-8").split("### Diff classes", 1)[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = {code for row in rows for code in re.findall(r"`([a-z_]+)`", row.split(" | ")[0])}
    assert listed == CODES


def test_an_unregistered_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unregistered"):
        Change("compatible", "something_new", "events.A", "x")
