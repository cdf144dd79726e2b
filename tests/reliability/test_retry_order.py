"""A person's retries keep their order even when their jittered backoffs cross.

Found by the hang fault of test_destination_faults.py: two messages of one person failed in the
same batch, each got its own random backoff, and the later one came due (and was delivered)
first. The store now holds a person's retry until every earlier retry of theirs is taken.
"""

from __future__ import annotations

import pytest

from tests.backends import any_store, postgres_database
from trackwell.pipeline.accept import accept
from trackwell.quality import compile_plan
from trackwell.store import DeliveryResult, Store

from .helpers import track

__all__ = ["any_store", "postgres_database"]

NOW = 1_800_000_000_000


@pytest.fixture
def store(any_store: Store) -> Store:
    """The store under test, on each backend in turn."""
    return any_store


def ids(batch: list[object]) -> list[str]:
    return [d.message["messageId"] for d in batch]  # type: ignore[attr-defined]


def test_a_later_retry_that_comes_due_first_waits_for_the_earlier(
    store: Store, example_plan: object
) -> None:
    store.register_destination("d")
    accept(store, compile_plan(example_plan), [track("o", "p", 0), track("o", "p", 1)])  # type: ignore[arg-type]
    first = store.claim("d", 10, NOW)
    assert ids(first) == ["o:p:0", "o:p:1"]
    # Both failed; the backoff jitter made the second due 9 seconds before the first.
    store.ack(
        "d",
        [
            DeliveryResult(first[0].seq, "retry", NOW + 10_000, "HTTP 503"),
            DeliveryResult(first[1].seq, "retry", NOW + 1_000, "HTTP 503"),
        ],
        NOW,
    )
    accept(store, compile_plan(example_plan), [track("o", "p", 2), track("o", "q", 0)])  # type: ignore[arg-type]
    # The second is due, but its person has an earlier message retrying: nothing of p goes.
    assert ids(store.claim("d", 10, NOW + 2_000)) == ["o:q:0"]
    assert store.claim("d", 10, NOW + 3_000) == []
    # Once the first is due, both go, in order; the one waiting behind them after that.
    again = store.claim("d", 10, NOW + 11_000)
    assert ids(again) == ["o:p:0", "o:p:1"]
    store.ack("d", [DeliveryResult(d.seq, "delivered") for d in again], NOW + 11_000)
    last = store.claim("d", 10, NOW + 11_000)
    assert ids(last) == ["o:p:2"]
