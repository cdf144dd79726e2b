"""Checking a message never changes the caller's data, at any depth, whether it parses or not."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from trackwell import Client
from trackwell.pipeline.accept import accept, prepare
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.quality.compiled import SearchBudget
from trackwell.server.ingest import Unmappable, _prepare
from trackwell.store import open_store

CARD = "4111 1111 1111 1111"
RECEIVED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def malformed() -> dict[str, Any]:
    """Cannot be parsed (an event name that is a number), with cards nested two levels down."""
    return {
        "type": "track",
        "event": 5,
        "userId": "user-1",
        "properties": {"payment": {"card": CARD, "lines": [{"memo": CARD}]}},
        "context": {"device": {"note": CARD}},
    }


def well_formed() -> dict[str, Any]:
    """A planned event whose nested, unplanned properties and context carry cards."""
    return {
        "type": "track",
        "event": "Account Created",
        "userId": "user-1",
        "timestamp": "2026-01-05T09:59:00Z",
        "properties": {
            "plan": "free",
            "signup_source": "organic",
            "payment": {"card": CARD, "lines": [{"memo": CARD}]},
        },
        "context": {"device": {"note": CARD}},
    }


@pytest.mark.parametrize("make", [malformed, well_formed])
def test_prepare_leaves_the_callers_dict_as_it_was(make: Any, example_plan: Plan) -> None:
    item = make()
    before = copy.deepcopy(item)
    checked = prepare(compile_plan(example_plan), item, RECEIVED)
    assert item == before
    # ... while what is stored has no card in it.
    assert CARD.encode() not in (checked.body or b"")


def test_a_malformed_message_is_blocked_redacted(example_plan: Plan) -> None:
    item = malformed()
    checked = prepare(compile_plan(example_plan), item, RECEIVED)
    assert checked.verdict == "blocked"
    body = orjson.loads(checked.body or b"{}")
    assert body["properties"]["payment"]["card"] == "[redacted:card_number]"
    assert body["properties"]["payment"]["lines"][0]["memo"] == "[redacted:card_number]"
    assert item["properties"]["payment"]["card"] == CARD


def test_accept_leaves_every_callers_dict_as_it_was(example_plan: Plan, tmp_path: Path) -> None:
    items = [malformed(), well_formed()]
    before = copy.deepcopy(items)
    store = open_store(f"sqlite:///{tmp_path / 'trackwell.db'}")
    try:
        results = accept(store, compile_plan(example_plan), items, received_at=RECEIVED)
    finally:
        store.close()
    assert results[0].verdict == "blocked" and results[1].verdict != "blocked"
    assert items == before


def test_the_sdk_client_leaves_the_callers_data_as_it_was(
    example_plan: Plan, tmp_path: Path
) -> None:
    properties: dict[str, Any] = {"plan": "free", "payment": {"card": CARD, "lines": [[CARD]]}}
    context: dict[str, Any] = {"device": {"note": CARD}}
    before = copy.deepcopy((properties, context))
    client = Client(example_plan, store=f"sqlite:///{tmp_path / 'trackwell.db'}")
    try:
        client.track("user-1", "Account Created", properties, context=context)
        client.track("user-1", "Account Created", properties, context=context, timestamp="bad")
        assert client.flush(timeout=5)
    finally:
        client.close(timeout=1)
        client.store.close()
    assert (properties, context) == before


@pytest.mark.parametrize("make", [malformed, well_formed])
def test_the_gateways_preparation_leaves_its_input_as_it_was(make: Any, example_plan: Plan) -> None:
    compiled = compile_plan(example_plan)
    for item in (make(), Unmappable(make(), "", "not an operation")):
        raw = item.raw if isinstance(item, Unmappable) else item
        before = copy.deepcopy(raw)
        checked = _prepare(compiled, item, RECEIVED, "backend", SearchBudget(20))
        assert raw == before
        assert CARD.encode() not in (checked.body or b"")
