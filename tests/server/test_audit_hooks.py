"""Audit entries from the gateway and the CLI: plan reloads (the file watcher), and key changes
(`trackwell keys add|rotate|revoke`), which still succeed when no store is there to record them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trackwell.cli import app
from trackwell.cli.options import cli_actor
from trackwell.store.sqlite import SQLiteStore

from ..conftest import EXAMPLE_PLAN
from .conftest import harness

runner = CliRunner()


@pytest.mark.anyio
async def test_a_plan_file_reload_is_audited_with_its_new_version(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    text = EXAMPLE_PLAN.read_text()
    plan.write_text(text)
    async with harness(tmp_path, plan=plan, plan_watch_seconds=0.05) as h:
        plan.write_text(text.replace("version: 3", "version: 4"))
        for _ in range(100):
            if h.gateway.plan.plan.version == 4:
                break
            await asyncio.sleep(0.05)
        for _ in range(20):  # the entry follows the swap, off the event loop
            if h.store.audit_entries(action="plan_reloaded"):
                break
            await asyncio.sleep(0.05)
        [entry] = h.store.audit_entries(action="plan_reloaded")
        assert (entry.actor, entry.target) == ("gateway", "4")
        assert entry.detail["trigger"] == "file" and entry.detail["previous_version"] == "3"
        plan.write_text("not: [a plan")  # a broken file keeps the plan in force: no entry
        await asyncio.sleep(0.3)
        assert len(h.store.audit_entries(action="plan_reloaded")) == 1


def _keys(config: Path, *args: str) -> tuple[str, str]:
    result = runner.invoke(app, ["--config", str(config), "keys", *args])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_key_changes_are_audited_without_the_key(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    config = tmp_path / "trackwell.toml"
    config.write_text(f'store = "sqlite:///{database}"\n')
    SQLiteStore(str(database)).close()
    first = _keys(config, "add", "backend")[0].strip().splitlines()[-1]
    rotated = _keys(config, "rotate", "backend", "--overlap", "1h")[0].strip().splitlines()[-1]
    listed = json.loads(_keys(config, "list", "--json")[0])["sources"][0]["hashes"]
    old = next(h for h in listed if h != listed[-1])
    _keys(config, "revoke", "backend", old)
    store = SQLiteStore(str(database))
    try:
        entries = list(reversed(store.audit_entries()))
    finally:
        store.close()
    assert [(e.action, e.target) for e in entries] == [
        ("key_added", "backend"),
        ("key_rotated", "backend"),
        ("key_revoked", "backend"),
    ]
    assert {e.actor for e in entries} == {cli_actor()}
    assert entries[0].detail["key"] == old and entries[2].detail["key"] == old
    assert entries[1].detail["retired"] == 1 and "old_keys_until" in entries[1].detail
    text = json.dumps([dict(e.detail) for e in entries])
    assert first not in text and rotated not in text  # hash prefixes, never the keys


def test_a_key_change_without_a_store_says_so_and_succeeds(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    config.write_text(f'store = "sqlite:///{tmp_path / "nowhere.db"}"\n')
    _, err = _keys(config, "add", "backend")
    assert "Not in the audit log: no store at" in err
    assert not (tmp_path / "nowhere.db").exists()  # no store made only to audit
    assert "key_hashes" in config.read_text()
