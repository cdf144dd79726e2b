"""Lint findings accepted on purpose (`lint.allow`), and severities set per code."""

from __future__ import annotations

import pytest

from tests.plan.helpers import dedent, good_event, make_plan
from trackwell.plan import PlanLoadError, parse_plan
from trackwell.plan.dump import dump_plan
from trackwell.plan.jsonschema import export_plan, import_documents
from trackwell.plan.lint import Finding, lint_plan, unsuppressed
from trackwell.plan.model import LintAllow

TWO = {"Account Created": good_event(), "Account Crated": good_event()}
ACCEPT = {
    "code": "near_duplicate",
    "names": ["Account Crated", "Account Created"],
    "reason": "Crated is a product: crates of goods",
}


def by_code(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code]


def test_an_accepted_finding_is_reported_with_its_reason_and_never_fails() -> None:
    plan = make_plan(TWO, lint={"allow": [ACCEPT]})
    [finding] = by_code(lint_plan(plan), "near_duplicate")
    assert finding.suppressed == "Crated is a product: crates of goods"
    assert finding.to_dict()["suppressed"] is True
    assert finding.to_dict()["reason"] == finding.suppressed
    assert unsuppressed(lint_plan(plan), "error") == []
    assert by_code(lint_plan(plan), "unused_suppression") == []


def test_names_match_in_either_order_and_paths_match_exactly() -> None:
    names = {**ACCEPT, "names": ["Account Created", "Account Crated"]}
    assert by_code(lint_plan(make_plan(TWO, lint={"allow": [names]})), "near_duplicate")[
        0
    ].suppressed
    event = good_event(description="")
    path = {"code": "missing_description", "path": "events.Trial Started", "reason": "obvious"}
    findings = lint_plan(make_plan({"Trial Started": event}, lint={"allow": [path]}))
    assert by_code(findings, "missing_description")[0].suppressed == "obvious"
    assert unsuppressed(findings, "warning") == []


def test_a_suppression_without_a_reason_is_an_error_and_accepts_nothing() -> None:
    bare = {k: v for k, v in ACCEPT.items() if k != "reason"}
    findings = lint_plan(make_plan(TWO, lint={"allow": [bare]}))
    assert by_code(findings, "near_duplicate")[0].suppressed is None
    [error] = by_code(findings, "suppression_reason")
    assert error.severity == "error" and error.path == "lint.allow[0]"
    assert error.location is not None
    blank = {**ACCEPT, "reason": "  "}
    assert by_code(lint_plan(make_plan(TWO, lint={"allow": [blank]})), "suppression_reason")


def test_a_suppression_that_matches_nothing_is_a_warning() -> None:
    stale = {**ACCEPT, "names": ["Gone Event", "Other Event"]}
    findings = lint_plan(make_plan(TWO, lint={"allow": [stale]}))
    [warning] = by_code(findings, "unused_suppression")
    assert warning.severity == "warning" and "Gone Event" in warning.message
    assert by_code(findings, "near_duplicate")[0].suppressed is None


def test_severity_levels_raise_lower_or_drop_a_code() -> None:
    plan = make_plan(TWO)
    assert by_code(lint_plan(plan, {"near_duplicate": "warning"}), "near_duplicate")[
        0
    ].severity == ("warning")
    assert by_code(lint_plan(plan, {"near_duplicate": "off"}), "near_duplicate") == []
    quiet = make_plan({"Trial Started": good_event(description="")})
    [raised] = by_code(lint_plan(quiet, {"missing_description": "error"}), "missing_description")
    assert raised.severity == "error"


def test_the_loader_reads_and_dump_round_trips_suppressions() -> None:
    path = {"code": "missing_backfill", "path": "events.Trial Started", "reason": "new product"}
    plan = make_plan(TWO, lint={"allow": [ACCEPT, path]})
    assert plan.lint_allow == (
        LintAllow(
            "near_duplicate",
            "Crated is a product: crates of goods",
            ("Account Crated", "Account Created"),
        ),
        LintAllow("missing_backfill", "new product", path="events.Trial Started"),
    )
    assert plan.lint_allow[0].location is not None and plan.lint_allow[0].location.line > 1
    assert parse_plan(dump_plan(plan)) == plan


def test_json_schema_export_keeps_suppressions_in_the_manifest() -> None:
    plan = make_plan(TWO, lint={"allow": [ACCEPT]})
    files = export_plan(plan)
    assert files["plan.json"]["lint"] == {"allow": [ACCEPT]}
    imported, report = import_documents(files)
    assert imported.lint_allow == plan.lint_allow and not report.notes


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{code: near_duplicat, names: [A, B], reason: x}",
            "unknown lint code 'near_duplicat'; did you mean 'near_duplicate'?",
        ),
        ("{code: near_duplicate, reason: x}", "give the finding's names or its path"),
        ("{code: near_duplicate, names: [A], path: events.A, reason: x}", "names or its path"),
        ("{names: [A, B], reason: x}", "missing required key 'code'"),
        ("{code: near_duplicate, names: [A, B], why: x}", "unknown key 'why'"),
    ],
)
def test_bad_suppressions_are_load_errors_with_a_line(entry: str, message: str) -> None:
    text = dedent(
        f"""
        trackwell: 1
        name: Test
        version: 1
        events: {{}}
        lint:
          allow:
            - {entry}
        """
    )
    with pytest.raises(PlanLoadError) as caught:
        parse_plan(text, "p.yaml")
    assert "p.yaml:7:" in str(caught.value) and message in str(caught.value)
