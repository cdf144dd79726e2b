"""The console's bounded reads: the same SQL on SQLite and PostgreSQL, windows that never scan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.postgres import fresh_schema_url, postgres_database
from trackwell.console import create_console, hash_token
from trackwell.console import reads as reads_module
from trackwell.console.reads import ConsoleReads
from trackwell.pipeline import accept
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import DeliveryResult, Store, open_store

from .conftest import ADMIN_TOKEN, log_in

__all__ = ["postgres_database"]

AT = {"timestamp": "2026-01-05T10:00:00Z"}


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reads.db'}"
    else:
        url = fresh_schema_url(request.getfixturevalue("postgres_database"))
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def feature(n: int, user: str = "u1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": "Feature Used",
        "properties": {"feature_name": "projects", **extra},
        "messageId": f"f-{n}",
        "timestamp": "2026-01-05T10:00:00Z",
    }


def test_people_messages_violations_and_dead_letters(any_store: Store, plan: Plan) -> None:
    compiled = compile_plan(plan)
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
    reads = ConsoleReads(any_store)
    assert reads.available
    people = reads.recent_people()
    # u2 sent only a blocked message: the log, and so this list, never saw them.
    assert [(p.key, p.anonymous) for p in people] == [("a-2", True), ("u1", False)]
    # LIKE wildcards in a search are taken literally.
    assert reads.find_people("grace_100%@") == ["u1"]
    assert reads.find_people("100_%") == [] and reads.find_people("grace%") == []
    sensitive = reads.violations(code="sensitive_data")
    assert [m.message["messageId"] for m in sensitive] == ["f-2"]
    assert sensitive[0].message["properties"].get("password") is None  # omitted after redaction
    unplanned = reads.violations(code="unplanned_event")
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
    [dead] = reads.dead_letters("cio")
    assert (dead.message_id, dead.label, dead.person, dead.error) == (
        "f-3",
        "Feature Used",
        "u1",
        "HTTP 400: no",
    )
    assert [(e.status, e.detail) for e in reads.delivery_errors("cio")] == [
        ("dead", "HTTP 400: no")
    ]


def test_log_reads_look_only_at_the_newest_rows(
    any_store: Store, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = compile_plan(plan)
    accept(any_store, compiled, [feature(1, unplanned_key=1)])
    accept(any_store, compiled, [feature(n) for n in range(2, 10)])
    accept(any_store, compiled, [feature(10, unplanned_key=1), feature(11)])
    monkeypatch.setattr(reads_module, "LOG_WINDOW", 5)
    reads = ConsoleReads(any_store)
    # The old one with a violation is outside the window of the 5 newest rows.
    assert [m.message["messageId"] for m in reads.violations()] == ["f-10"]
    monkeypatch.setattr(reads_module, "LOG_WINDOW", 50)
    assert [m.message["messageId"] for m in reads.violations()] == ["f-10", "f-1"]


def test_a_store_without_sql_answers_nothing(plan: Plan) -> None:
    reads = ConsoleReads(object())  # type: ignore[arg-type]
    assert not reads.available
    assert reads.recent_people() == [] and reads.find_people("x") == []
    assert reads.violations() == []
    assert reads.dead_letters("cio") == [] and reads.delivery_errors("cio") == []
    assert reads.log_size() == 0


PAGES = ("/people", "/people/u1", "/people?q=a-1", "/events", "/events/Feature%20Used",
         "/violations", "/destinations", "/quality", "/plan")  # fmt: skip


class Proxy:
    """The Store protocol without the SQL underneath (a store the console cannot read past)."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.anyio
@pytest.mark.parametrize("wrap", [False, True], ids=["store", "protocol-only"])
async def test_every_page_renders(any_store: Store, plan: Plan, wrap: bool) -> None:
    accept(
        any_store,
        compile_plan(plan),
        [
            {"type": "page", "anonymousId": "a-1", "name": "Pricing", "messageId": "p-1", **AT},
            {"type": "identify", "userId": "u1", "anonymousId": "a-1", "messageId": "i-1",
             "traits": {"email": "u1@example.com"}, **AT},
            feature(1),
        ],
    )  # fmt: skip
    store: Any = Proxy(any_store) if wrap else any_store
    app = create_console(store, lambda: plan, admin_token_hash=hash_token(ADMIN_TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        await log_in(client)
        for path in PAGES:
            response = await client.get(path)
            assert response.status_code in (200, 303), (path, response.status_code)
        timeline = (await client.get("/api/people/a-1")).json()
        assert [e["label"] for e in timeline["entries"]] == ["Feature Used", "identify", "Pricing"]
        if wrap:
            assert "cannot list recent people" in (await client.get("/people")).text
