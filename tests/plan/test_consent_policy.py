"""`policy.consent`: read with file:line:col errors, dumped, exported, diffed, linted, documented."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from trackwell.codegen.markdown import generate_markdown
from trackwell.core.consent import ConsentPolicy
from trackwell.plan import PlanLoadError, parse_plan
from trackwell.plan.diff import diff_plans
from trackwell.plan.dump import dump_plan
from trackwell.plan.jsonschema import export_plan, import_documents
from trackwell.plan.lint import lint_plan

from .helpers import dedent, make_plan

CONSENT_TRAIT = {"consent": {"type": "object"}}
TRAITS = {"email": {"type": "string", "format": "email"}, "created_at": {"type": "timestamp"}}


def consent_plan(consent: Any, traits: dict[str, Any] | None = None) -> Any:
    return make_plan(
        policy={"consent": consent},
        traits={**TRAITS, **(CONSENT_TRAIT if traits is None else traits)},
    )


def test_a_consent_policy_is_read_and_survives_every_round_trip() -> None:
    plan = consent_plan({"trait": "consent", "missing_consent": "hold"})
    assert plan.policy.consent == ConsentPolicy(missing_consent="hold", trait="consent")
    assert parse_plan(dump_plan(plan)) == plan
    documents = export_plan(plan)
    assert documents["plan.json"]["policy"]["consent"] == {
        "trait": "consent",
        "missing_consent": "hold",
    }
    imported, report = import_documents(documents)
    assert report.notes == [] and imported.policy == plan.policy
    bare = consent_plan({"missing_consent": "drop"})
    assert bare.policy.consent == ConsentPolicy(missing_consent="drop")
    assert parse_plan(dump_plan(bare)) == bare
    assert make_plan().policy.consent is None


def test_an_imported_manifest_with_a_broken_consent_policy_is_left_out_and_said() -> None:
    documents = export_plan(consent_plan({"trait": "consent", "missing_consent": "hold"}))
    documents["plan.json"]["policy"]["consent"] = {"missing_consent": "sometimes"}
    imported, report = import_documents(documents)
    assert imported.policy.consent is None
    assert any("policy.consent" in note for note in report.notes)


@pytest.mark.parametrize(
    ("block", "where", "words"),
    [
        (
            "  consent:\n    trait: consent\n",
            (7, 5),  # the block itself, where the key is missing
            "policy.consent: missing required key 'missing_consent' (what a message without "
            "consent information means: deliver, hold, drop)",
        ),
        (
            "  consent:\n    missing_consent: maybe\n",
            (7, 22),
            "policy.consent.missing_consent: unknown value 'maybe' "
            "(expected one of deliver, hold, drop)",
        ),
        (
            "  consent:\n    missing_consent: hold\n    trate: consent\n",
            (8, 5),
            "policy.consent: unknown key 'trate' (expected one of trait, missing_consent); "
            "did you mean 'trait'?",
        ),
        ("  consent: yes\n", (6, 12), "policy.consent: expected a map, got a boolean"),
        (
            "  consent:\n    trait: ''\n    missing_consent: drop\n",
            (7, 12),
            "policy.consent.trait: must not be empty",
        ),
        (
            "  consnt: {}\n",
            (6, 3),
            "policy: unknown key 'consnt' (expected one of unplanned_event, unplanned_property,"
            " invalid_property, sensitive_data, consent); did you mean 'consent'?",
        ),
    ],
)
def test_a_bad_consent_policy_names_file_line_and_column(
    block: str, where: tuple[int, int], words: str
) -> None:
    text = (
        dedent("""
        trackwell: 1
        name: Test
        version: 1
        events: {}
        policy:
        """)
        + block
    )
    with pytest.raises(PlanLoadError) as info:
        parse_plan(text, "tracking-plan.yaml")
    [problem] = info.value.problems
    assert (problem.location.line, problem.location.column) == where
    assert problem.message == words


def test_enforcing_more_consent_is_a_breaking_change() -> None:
    none = make_plan()
    deliver = consent_plan({"trait": "consent", "missing_consent": "deliver"})
    hold = consent_plan({"trait": "consent", "missing_consent": "hold"})
    untraited = consent_plan({"missing_consent": "hold"})

    def kinds(old: Any, new: Any) -> list[tuple[str, str]]:
        return [
            (c.kind, c.code) for c in diff_plans(old, new).changes if c.path == "policy.consent"
        ]

    assert kinds(none, deliver) == [("breaking", "policy_tightened")]
    assert kinds(deliver, hold) == [("breaking", "policy_tightened")]
    assert kinds(hold, untraited) == [("breaking", "policy_tightened")]
    assert kinds(hold, deliver) == [("compatible", "policy_loosened")]
    assert kinds(untraited, hold) == [("compatible", "policy_loosened")]
    assert kinds(hold, hold) == []


def test_lint_wants_the_consent_trait_planned_as_an_object() -> None:
    def findings(plan: Any) -> list[tuple[str, str]]:
        return [(f.path, f.severity) for f in lint_plan(plan) if f.code == "consent_trait"]

    assert findings(consent_plan({"trait": "consent", "missing_consent": "hold"})) == []
    assert findings(consent_plan({"trait": "consent", "missing_consent": "hold"}, {})) == [
        ("policy.consent.trait", "error")
    ]
    as_text = consent_plan({"trait": "consent", "missing_consent": "hold"}, {"consent": "string"})
    assert findings(as_text) == [("traits.consent", "error")]
    assert findings(consent_plan({"missing_consent": "drop"}, {})) == []


def test_the_markdown_plan_says_what_consent_means() -> None:
    plan = consent_plan({"trait": "consent", "missing_consent": "hold"})
    text = generate_markdown(plan)
    assert (
        "Consent is read from `context.consent.categoryPreferences`, else the person's "
        "`consent` trait." in text
    )
    assert "without any consent information is held until consent information arrives" in text
    dropping = dataclasses.replace(
        plan, policy=dataclasses.replace(plan.policy, consent=ConsentPolicy("drop"))
    )
    assert "is not delivered (outcome no_consent)" in generate_markdown(dropping)
    assert "Consent is read" not in generate_markdown(make_plan())
