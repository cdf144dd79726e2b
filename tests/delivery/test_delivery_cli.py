"""`trackwell route`, `deliveries` and `replay` against a fake destination."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PLAN
from tests.fakes.webhook import FakeWebhook
from trackwell.cli import app
from trackwell.pipeline import accept
from trackwell.plan import load_plan
from trackwell.quality import compile_plan
from trackwell.store import open_store

runner = CliRunner()
SECRET = "whsec-delivery-cli-secret"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def deliveries(store_url: str) -> dict[str, Any]:
    code, out = run("deliveries", "--store", store_url, "--json")
    assert code == 0, out
    return {d["name"]: d for d in json.loads(out)["destinations"]}


def test_a_dead_letter_is_shown_then_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeWebhook(secret=SECRET) as hook:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "trackwell.toml").write_text(
            '[destinations.hook]\ntype = "webhook"\nbatch_size = 5\n'
        )
        monkeypatch.setenv("TRACKWELL_HOOK_URL", f"{hook.url}/hooks/trackwell")
        monkeypatch.setenv("TRACKWELL_HOOK_SECRET", SECRET)
        url = f"sqlite:///{tmp_path / 'tw.db'}"
        store = open_store(url)
        store.register_destination("hook")
        accept(
            store,
            compile_plan(load_plan(EXAMPLE_PLAN)),
            [
                {
                    "type": "track",
                    "userId": f"u-{i}",
                    "event": "Feature Used",
                    "properties": {"feature_name": "projects"},
                    "messageId": f"d-{i}",
                }
                for i in range(10)
            ],
        )
        store.close()
        hook.fail_next(1, status=400, body={"error": "bad payload"})  # the first batch is refused
        code, out = run("route", "--store", url, "--once")
        assert code == 0, out
        state = deliveries(url)["hook"]
        assert (state["delivered"], state["dead"], state["pending"]) == (5, 5, 0)
        assert "HTTP 400" in state["last_error"]
        assert len(hook.messages) == 5

        code, out = run("replay", "--store", url, "--destination", "hook", "--dead")
        assert code == 0 and "Scheduled 5 message(s)" in out
        code, out = run("route", "--store", url, "--once")
        assert code == 0, out
        state = deliveries(url)["hook"]
        assert (state["delivered"], state["dead"]) == (10, 0)
        assert sorted(m["messageId"] for m in hook.messages) == sorted(f"d-{i}" for i in range(10))

        code, out = run("replay", "--store", url, "--destination", "nope", "--dead")
        assert code == 2 and "unknown destination 'nope'" in out
        code, out = run("replay", "--store", url, "--destination", "hook")
        assert code == 2 and "say what to replay" in out
        code, out = run("deliveries", "--store", url)
        assert code == 0 and "hook" in out
