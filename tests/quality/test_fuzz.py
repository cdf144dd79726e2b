"""Arbitrary JSON into the parser and the checks: nothing escapes, everything gets a verdict."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trackwell.io.eventfile import parse_events
from trackwell.quality import compile_plan
from trackwell.quality.report import check_events

from ..conftest import EXAMPLE_PLAN

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
field_values = (
    st.sampled_from(
        [
            "track",
            "identify",
            "page",
            "screen",
            "group",
            "alias",
            "Account Created",
            "Signed Up",
            "u1",
            "null",
            "",
        ]
    )
    | json_values
)
message_like = st.dictionaries(
    st.sampled_from(
        [
            "type",
            "userId",
            "anonymousId",
            "event",
            "name",
            "properties",
            "traits",
            "context",
            "timestamp",
            "sentAt",
            "messageId",
            "groupId",
            "previousId",
            "integrations",
            "receivedAt",
        ]
    ),
    field_values,
    max_size=8,
)


def _plan() -> Any:
    from trackwell.plan import load_plan

    return compile_plan(load_plan(EXAMPLE_PLAN))


COMPILED = _plan()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message_like | json_values, min_size=1, max_size=5))
def test_any_json_gets_a_verdict(items: list[Any]) -> None:
    # A first line of its own keeps the input JSON Lines (one line alone could be a batch).
    first = {"type": "track", "userId": "u1", "event": "Feature Used"}
    raw = b"\n".join(json.dumps(item).encode() for item in [first, *items])
    report = check_events(COMPILED, parse_events(raw).events)
    assert len(report.messages) == len(items) + 1
    for entry in report.messages:
        assert entry.verdict in ("accepted", "repaired", "blocked")
        if entry.verdict == "blocked":
            assert any(v.effect == "block" for v in entry.violations)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_get_a_verdict_or_a_clear_error(raw: bytes) -> None:
    try:
        events = parse_events(raw)
    except Exception as exc:  # only the documented error is allowed
        assert type(exc).__name__ == "EventFileError"
        return
    report = check_events(COMPILED, events.events)
    assert all(m.verdict in ("accepted", "repaired", "blocked") for m in report.messages)
