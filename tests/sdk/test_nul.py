"""The SDK on both stores: a NUL in an id or a name is blocked with the field named, never a
failed write for the messages around it; a NUL inside context values is kept as sent."""

from __future__ import annotations

from tests.backends import any_store, postgres_database
from trackwell import Client
from trackwell.plan import Plan
from trackwell.store.sql.store import SQLStore

__all__ = ["any_store", "postgres_database"]

NUL = "\u0000"
FEATURE = {"feature_name": "projects"}


def test_the_sdk_blocks_nul_in_ids_and_names_and_keeps_it_in_values(
    any_store: SQLStore, example_plan: Plan
) -> None:
    client = Client(example_plan, any_store.url)
    try:
        bad_user = client.track(f"u{NUL}1", "Feature Used", FEATURE)
        bad_event = client.track("u1", f"Feature{NUL}Used", FEATURE)
        good = client.track("u1", "Feature Used", FEATURE, context={"note": f"a{NUL}b"})
        assert client.flush(timeout=10)
    finally:
        client.close(timeout=5)
        client.store.close()
    for message_id, field in ((bad_user, "userId"), (bad_event, "event")):
        entry = any_store.get(message_id)
        assert entry is not None and entry.verdict == "blocked", message_id
        assert [v["path"] for v in entry.violations] == [field]
    entry = any_store.get(good)
    assert entry is not None and entry.seq is not None
    assert entry.message["context"]["note"] == f"a{NUL}b"
