"""redacted_copy: sensitive values replaced in a copy; the original is never touched."""

from __future__ import annotations

import copy
from typing import Any

from trackwell.quality.sensitive import redacted_copy

CARD = "4111 1111 1111 1111"


def test_only_the_way_to_a_redaction_is_copied() -> None:
    clean = {"city": "Paris"}
    value: dict[str, Any] = {"a": {"b": [{"card": CARD}]}, "clean": clean, "n": 1}
    before = copy.deepcopy(value)
    out = redacted_copy(value)
    assert value == before
    assert out["a"]["b"][0]["card"] == "[redacted:card_number]"
    assert out["clean"] is clean  # untouched branches are shared, not copied
    assert out["a"] is not value["a"] and out["a"]["b"] is not value["a"]["b"]


def test_a_container_reached_twice_is_redacted_on_both_paths() -> None:
    shared = {"card": CARD}
    value = {"x": shared, "y": shared, "z": [shared, shared]}
    out = redacted_copy(value)
    assert shared == {"card": CARD}
    assert out["x"]["card"] == out["y"]["card"] == "[redacted:card_number]"
    assert [item["card"] for item in out["z"]] == ["[redacted:card_number]"] * 2


def test_clean_and_scalar_values_come_back_as_they_are() -> None:
    clean = {"a": {"b": "nothing here"}}
    assert redacted_copy(clean) is clean
    assert redacted_copy(CARD) == CARD  # a bare value has no place to put a marker
    assert redacted_copy([CARD]) == ["[redacted:card_number]"]
