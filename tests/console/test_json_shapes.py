"""The same object has the same JSON keys from the command line (`--json`) and the console's
API: a destination's queue, a privacy request with its receipts, an audit entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner

from trackwell.cli import app as cli
from trackwell.console import create_console, hash_token
from trackwell.pipeline.audit import record
from trackwell.pipeline.privacy import PrivacyService
from trackwell.plan import Plan
from trackwell.store.sqlite import SQLiteStore

from .conftest import ADMIN_TOKEN, PERSON, Logged, Seeded

pytestmark = pytest.mark.anyio
runner = CliRunner()


@pytest.fixture
def app(store: SQLiteStore, plan: Plan) -> Starlette:
    service = PrivacyService(store, ["customerio", "mixpanel"])
    return create_console(
        store, lambda: plan, admin_token_hash=hash_token(ADMIN_TOKEN), privacy=service
    )


def cli_json(tmp_path: Path, *args: str) -> Any:
    """A command's `--json` document, against the console's store file."""
    result = runner.invoke(
        cli, [*args, "--store", f"sqlite:///{tmp_path / 'console.db'}", "--json"]
    )
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def shape(document: Any) -> Any:
    """The keys of a document, nested: dicts by key, lists by their first item."""
    if isinstance(document, dict):
        return {key: shape(value) for key, value in document.items()}
    if isinstance(document, list):
        return [shape(document[0])] if document else []
    return None


async def test_a_queue_has_the_same_keys_in_deliveries_and_the_api(
    logged: Logged, seeded: Seeded, tmp_path: Path
) -> None:
    listed = cli_json(tmp_path, "deliveries")["destinations"]
    served = (await logged.client.get("/api/destinations")).json()["queues"]
    assert [q["name"] for q in listed] == [q["name"] for q in served] != []
    assert [shape(q) for q in listed] == [shape(q) for q in served]
    assert "oldest_pending_seconds" in listed[0]


async def test_a_privacy_request_has_the_same_keys_in_the_cli_and_the_api(
    logged: Logged, seeded: Seeded, tmp_path: Path
) -> None:
    made = PrivacyService(seeded.store, ["customerio", "mixpanel"]).request(
        "suppress", PERSON, actor="cli:test"
    )
    status = cli_json(tmp_path, "privacy", "status", made.id)
    one = (await logged.client.get(f"/api/privacy/{made.id}")).json()
    assert status == one  # the same document, value for value
    assert len(one["destinations"]) == 2
    listed = cli_json(tmp_path, "privacy", "list")["requests"]
    served = (await logged.client.get("/api/privacy")).json()["requests"]
    assert listed == served


async def test_an_audit_entry_has_the_same_keys_in_audit_log_and_the_api(
    logged: Logged, seeded: Seeded, tmp_path: Path
) -> None:
    record(seeded.store, "cli:test", "replay", "customerio", {"messages": 2})
    listed = cli_json(tmp_path, "audit-log", "--action", "replay")["entries"]
    served = (await logged.client.get("/api/audit", params={"action": "replay"})).json()
    assert listed == served["entries"] and len(listed) == 1
    assert sorted(listed[0]) == ["action", "actor", "at", "detail", "id", "target"]
