"""blocked_input: what the blocked table keeps of input that is not a message."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import orjson

from trackwell.core.messages import MAX_MESSAGE_BYTES
from trackwell.core.violations import Violation
from trackwell.pipeline.blocked import blocked_input

RECEIVED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
BROKEN = Violation("malformed", "event", "expected a string", "block")
CARD = "4111 1111 1111 1111"


def test_named_after_what_the_input_claims_redacted_and_untouched() -> None:
    raw = {"type": "track", "messageId": "m-1", "userId": "u", "properties": {"p": {"c": CARD}}}
    before = copy.deepcopy(raw)
    checked = blocked_input(raw, BROKEN, RECEIVED, source="web")
    assert raw == before
    assert checked.verdict == "blocked" and checked.violations == (BROKEN,)
    assert checked.source == "web"
    assert (checked.message.type, checked.message.message_id) == ("track", "m-1")
    assert checked.message.user_id == "u" and checked.message.received_at == RECEIVED
    assert orjson.loads(checked.body or b"")["properties"]["p"]["c"] == "[redacted:card_number]"


def test_unnamed_input_is_an_unknown_with_a_fresh_id() -> None:
    checked = blocked_input({"type": "person", "messageId": "m-1"}, BROKEN, RECEIVED, named=False)
    assert str(checked.message.type) == "unknown"
    assert checked.message.message_id != "m-1"


def test_what_json_cannot_carry_and_what_is_too_large() -> None:
    class Opaque:
        def __str__(self) -> str:
            return CARD

    odd = blocked_input(Opaque(), BROKEN, RECEIVED)
    assert orjson.loads(odd.body or b"") == {"unreadable": "Opaque"}
    huge = blocked_input({"x": "y" * MAX_MESSAGE_BYTES}, BROKEN, RECEIVED)
    assert orjson.loads(huge.body or b"")["truncated"] is True
