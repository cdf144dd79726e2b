"""Every accepted message ends delivered, captured, retrying (or waiting behind a retry) or dead
with a reason — walked end to end through the store, the router and a fake tool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_PLAN
from tests.fakes.server import Received, Reply
from tests.fakes.webhook import FakeWebhook
from trackwell.destinations.registry import from_settings
from trackwell.destinations.webhook import Webhook
from trackwell.pipeline import accept
from trackwell.pipeline.router import Router
from trackwell.plan import load_plan
from trackwell.quality import compile_plan
from trackwell.store import DeliveryFilter, Store, open_store

SECRET = "whsec-outcomes-secret"
SETTLED_OR_RETRYING = {"delivered", "captured", "retry", "waiting", "dead"}


class ScriptedTool(FakeWebhook):
    """A webhook receiver that refuses one person's messages and is overloaded for others'."""

    def handle(self, request: Received) -> Reply:
        """400 for `refused-*`, 503 for `failing-*`, else the receiver's own checks."""
        body = request.json()
        people = {str(m.get("userId")) for m in body.get("batch", [])}
        if any(p.startswith("refused") for p in people):
            return Reply(400, {"error": "property 'feature_name' is not allowed here"})
        if any(p.startswith("failing") for p in people):
            return Reply(503, {"error": "overloaded"})
        return super().handle(request)


def track(message_id: str, user: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": "Feature Used",
        "properties": {"feature_name": "projects"},
        "messageId": message_id,
        **extra,
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'outcomes.db'}")
    yield opened
    opened.close()


def test_every_accepted_message_ends_in_a_known_state(store: Store) -> None:
    compiled = compile_plan(load_plan(EXAMPLE_PLAN))
    clock = [1_900_000_000.0]
    with ScriptedTool(secret=SECRET) as tool:
        url = f"{tool.url}{tool.path}"
        hook = Webhook(
            "hook",
            url=url,
            secret=SECRET,
            batch_size=1,
            max_body_bytes=1_500,
            filter=DeliveryFilter(types=frozenset({"track"})),
        )
        # Explicitly configured for capture; it sees the same tool's URL but never calls it.
        dev = from_settings("dev", {"type": "webhook", "url": url, "mode": "capture"}, {})
        router = Router(store, [hook, dev], max_attempts=3, clock=lambda: clock[0])
        first = accept(
            store,
            compiled,
            [
                track("ok", "ada"),
                track("refused", "refused-1"),
                track("unsendable", "big-1", context={"note": "x" * 2_000}),
                track("gave-up", "failing-1"),
                {
                    "type": "identify",
                    "userId": "ada",
                    "traits": {"email": "ada@example.com"},
                    "messageId": "not-for-hook",
                },
                {"type": "track", "userId": "ada", "event": "Feature Used", "messageId": "blocked"},
            ],
        )
        for _ in range(3):  # three attempts an hour apart: the failing message runs out
            router.drain("hook")
            clock[0] += 3600
        second = accept(
            store, compiled, [track("retrying", "failing-2"), track("waiting", "failing-2")]
        )
        router.drain("hook")  # one attempt of `retrying`; `waiting` stays behind it
        router.drain("dev")
        router.close()

    accepted = [r.message_id for r in first + second if r.seq is not None]
    assert "blocked" not in accepted  # refused at the door: never accepted, never routed
    assert len(accepted) == 7
    states: dict[tuple[str, str], dict[str, Any]] = {}
    for message_id in accepted:
        entry = store.get(message_id)
        assert entry is not None
        for destination, state in entry.deliveries.items():
            states[(message_id, destination)] = state
    # Nothing ends anywhere else: no pending, nothing in flight, no silent "delivered".
    assert {s["status"] for s in states.values()} <= SETTLED_OR_RETRYING
    assert all(s["error"] for s in states.values() if s["status"] == "dead")

    hook_states = {m: s["status"] for (m, d), s in states.items() if d == "hook"}
    assert hook_states == {
        "ok": "delivered",
        "refused": "dead",
        "unsendable": "dead",
        "gave-up": "dead",
        "retrying": "retry",
        "waiting": "waiting",
    }  # `not-for-hook` is an identify: not this destination's, so it has no state there
    assert "HTTP 400" in states[("refused", "hook")]["error"]
    assert "bytes; the limit is" in states[("unsendable", "hook")]["error"]
    assert states[("gave-up", "hook")]["error"].startswith(
        "gave up after 3 attempts; last: HTTP 503"
    )
    assert {m for (m, d), s in states.items() if d == "dev"} == set(accepted)
    assert {s["status"] for (m, d), s in states.items() if d == "dev"} == {"captured"}
    assert [m["messageId"] for m in tool.messages] == ["ok"]  # the only one the tool took

    stats = {s.destination: s for s in store.delivery_stats(int(clock[0] * 1000))}
    counted = stats["hook"]
    assert (counted.pending, counted.in_flight) == (0, 0)
    assert (counted.delivered, counted.dead, counted.retry, counted.waiting) == (1, 3, 1, 1)
    assert counted.captured == 0
    assert (stats["dev"].captured, stats["dev"].delivered, stats["dev"].pending) == (7, 0, 0)
