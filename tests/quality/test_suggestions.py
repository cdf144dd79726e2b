"""Did-you-mean searches: exact against every candidate, bounded per request, remembered."""

from __future__ import annotations

import time

import pytest
from rapidfuzz.distance import OSA

from trackwell.plan import Plan, naming
from trackwell.quality import CompiledPlan, compile_plan
from trackwell.quality.compiled import SearchBudget


@pytest.fixture
def plan(example_plan: Plan) -> CompiledPlan:
    return compile_plan(example_plan)


def brute_force(name: str, candidates: list[str]) -> str | None:
    """What the search must find: the best-ranked confusion over every candidate."""
    rank = {"case": 0, "spelling": 1, "order": 2, "typo": 3}
    found = [
        (rank[c.kind], OSA.distance(name.lower(), candidate.lower()), candidate)
        for candidate in candidates
        if (c := naming.confusion(name, candidate)) is not None
    ]
    return min(found)[2] if found else None


def test_the_indexed_search_finds_what_comparing_every_candidate_finds(
    plan: CompiledPlan,
) -> None:
    events = sorted(plan.events)
    index = naming.NameIndex(events)
    names = [
        "account_created", "Created Account", "Subscription Canceled", "Acount Created",
        "Trial Startd", "trial-ended", "Payment Faild", "Invite Accepted!", "Seat Added",
        "Feature Usedd", "x" * 255, "A" + " " * 200 + "ccount Created", "", "Organisation Made",
    ]  # fmt: skip
    for name in names:
        assert index.closest(name) == brute_force(name, events), name


def test_a_long_odd_name_costs_little() -> None:
    index = naming.NameIndex([f"Event Number {i} Happened" for i in range(200)])
    name = "eyJ-" * 63 + "abc"  # 255 characters, many words, close to nothing
    started = time.perf_counter()
    for _ in range(100):
        assert index.closest(name) is None
    assert (time.perf_counter() - started) / 100 < 0.005


def test_a_budget_bounds_new_searches_and_seen_names_stay_free(plan: CompiledPlan) -> None:
    budget = SearchBudget(2)
    assert plan.suggest_event("Acount Created", budget) == "Account Created"
    assert plan.suggest_event("Trial Startd", budget) == "Trial Started"
    assert plan.suggest_event("Payment Faild", budget) is None  # over budget: not searched
    assert budget.left == 0
    # Remembered names cost nothing, over budget or not; the unsearched one was not remembered.
    assert plan.suggest_event("Acount Created", budget) == "Account Created"
    assert plan.suggest_event("Payment Faild", SearchBudget(1)) == "Payment Failed"
    assert plan.suggest_page("page", "Pricng", SearchBudget(1)) == brute_force(
        "Pricng", sorted(plan.pages)
    )
