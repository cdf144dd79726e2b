"""`near_duplicate` on real event names: no false positives within a source, every drift caught."""

from __future__ import annotations

import pytest

from tests.plan.helpers import good_event, make_plan
from tests.plan.name_corpus import DATA, false_positives, labelled, missed, must_catch, sources
from trackwell.plan import naming
from trackwell.plan.lint import lint_plan


def test_the_corpus_is_several_hundred_real_names_from_cited_sources() -> None:
    corpus = sources()
    assert len(corpus) >= 5
    assert sum(len(names) for names in corpus.values()) >= 200
    for source in corpus:
        text = (DATA / f"{source}.txt").read_text(encoding="utf-8").splitlines()
        assert any(line.startswith("# https://") for line in text), source


def test_no_pair_of_distinct_real_names_is_a_near_duplicate() -> None:
    flagged = [pair for result in false_positives(naming.near_duplicate) for pair in result.flagged]
    assert flagged == []


def test_every_drift_and_typo_is_caught() -> None:
    pairs = must_catch()
    assert len(pairs) > 1000  # hand-written ones plus the drifts made from every real name
    assert missed(naming.near_duplicate, pairs) == []


@pytest.mark.parametrize(("a", "b"), labelled("distinct_pairs.txt"))
def test_different_words_are_different_names(a: str, b: str) -> None:
    assert naming.near_duplicate(a, b) is None


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        ("Account Created", "account_created", "case"),
        ("Signup Completed", "Sign Up Completed", "case"),
        ("Account Created", "Created Account", "order"),
        ("Organization Created", "Organisation Created", "spelling"),
        ("Client Imported", "Clients Imported", "plural"),
        ("Account Created", "Account Crated", "typo"),
        ("Signed Up", "Sgined Up", "typo"),
        ("Crated Account", "Account Created", "typo"),
    ],
)
def test_kinds_of_near_duplicate(a: str, b: str, kind: str) -> None:
    found = naming.near_duplicate(a, b)
    assert found is not None and found.kind == kind


def test_lint_accepts_different_verbs_as_different_events() -> None:
    events = {name: good_event() for name in ("Clients Imported", "Clients Exported")}
    events |= {name: good_event() for name in ("Tag Added", "Tax Added", "Report Started")}
    events |= {"Import Started": good_event(), "Export Started": good_event()}
    assert [f for f in lint_plan(make_plan(events)) if f.code == "near_duplicate"] == []


def test_suggestions_stay_looser_than_lint() -> None:
    # A sender of `Tax Added` may well have meant the planned `Tag Added`: did-you-mean offers
    # it, while lint accepts the two as different events.
    assert naming.closest("Tax Added", ["Tag Added"]) == "Tag Added"
    assert naming.near_duplicate("Tax Added", "Tag Added") is None
