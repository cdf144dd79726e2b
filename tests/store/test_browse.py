"""The store's bounded browsing reads: the same SQL on SQLite and PostgreSQL, windows that never scan."""

from __future__ import annotations

import pytest

from tests.backends import AT, any_store, feature, postgres_database
from trackwell.pipeline import accept
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import DeliveryResult, Store
from trackwell.store.sql import browse

__all__ = ["any_store", "postgres_database"]


def test_people_messages_violations_and_dead_letters(any_store: Store, example_plan: Plan) -> None:
    compiled = compile_plan(example_plan)
    assert any_store.log_size() == 0
    accept(
        any_store,
        compiled,
        [
            {"type": "page", "anonymousId": "a-1", "name": "Pricing", "messageId": "p-1", **AT},
            {
                "type": "identify",
                "userId": "u1",
                "anonymousId": "a-1",
                "messageId": "i-1",
                **AT,
                "traits": {"email": "grace_100%@example.com", "name": "Grace"},
            },
            feature(1),
            feature(2, password="hunter2"),
            {"type": "track", "userId": "u2", "event": "Featur Used", "messageId": "x-1"},
            {"type": "page", "anonymousId": "a-2", "name": "Help Center", "messageId": "p-2", **AT},
        ],
    )
    # An upper bound of the log's size, read from the key (the blocked message is not in the log).
    assert any_store.log_size() >= any_store.count() == 5
    people = any_store.recent_people()
    # u2 sent only a blocked message: the log, and so this list, never saw them.
    assert [(p.key, p.anonymous) for p in people] == [("a-2", True), ("u1", False)]
    # LIKE wildcards in a search are taken literally.
    assert any_store.find_people("grace_100%@") == ["u1"]
    assert any_store.find_people("100_%") == [] and any_store.find_people("grace%") == []
    sensitive = any_store.stored_violations(code="sensitive_data")
    assert [m.message["messageId"] for m in sensitive] == ["f-2"]
    assert sensitive[0].message["properties"].get("password") is None  # omitted after redaction
    unplanned = any_store.stored_violations(code="unplanned_event")
    assert [(m.label, m.verdict, m.seq) for m in unplanned] == [("Featur Used", "blocked", None)]
    any_store.register_destination("cio")
    accept(any_store, compiled, [feature(3), feature(4)])
    claimed = any_store.claim("cio", 10, 1_000)
    any_store.ack(
        "cio",
        [
            DeliveryResult(
                d.seq,
                "dead" if d.message["messageId"] == "f-3" else "delivered",
                error="HTTP 400: no",
            )
            for d in claimed
        ],
        2_000,
    )
    [dead] = any_store.dead_letters("cio")
    assert (dead.message_id, dead.label, dead.person, dead.error) == (
        "f-3",
        "Feature Used",
        "u1",
        "HTTP 400: no",
    )
    assert [(e.status, e.detail) for e in any_store.delivery_errors("cio")] == [
        ("dead", "HTTP 400: no")
    ]


def test_log_reads_look_only_at_the_newest_rows(
    any_store: Store, example_plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = compile_plan(example_plan)
    accept(any_store, compiled, [feature(1, unplanned_key=1)])
    accept(any_store, compiled, [feature(n) for n in range(2, 10)])
    accept(any_store, compiled, [feature(10, unplanned_key=1), feature(11)])
    monkeypatch.setattr(browse, "LOG_WINDOW", 5)
    # The old one with a violation is outside the window of the 5 newest rows.
    assert [m.message["messageId"] for m in any_store.stored_violations()] == ["f-10"]
    monkeypatch.setattr(browse, "LOG_WINDOW", 50)
    assert [m.message["messageId"] for m in any_store.stored_violations()] == ["f-10", "f-1"]
