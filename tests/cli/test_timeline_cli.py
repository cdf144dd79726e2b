"""`trackwell timeline`: anonymous page views and post-signup events on one timeline."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trackwell.cli import app
from trackwell.pipeline import accept
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.store import open_store

runner = CliRunner()


def seed(path: Path, example_plan: Plan) -> str:
    url = f"sqlite:///{path}"
    store = open_store(url)
    store.register_destination("customerio")
    accept(
        store,
        compile_plan(example_plan),
        [
            {
                "type": "page",
                "anonymousId": "anon-9",
                "name": "Pricing",
                "timestamp": "2026-11-28T09:00:00Z",
            },
            {
                "type": "identify",
                "userId": "u-9",
                "anonymousId": "anon-9",
                "traits": {"email": "u9@example.com", "created_at": 1700000000},
                "timestamp": "2026-11-28T09:05:00Z",
            },
            {
                "type": "track",
                "userId": "u-9",
                "event": "Account Created",
                "properties": {"plan": "free", "signup_source": "organic"},
                "timestamp": "2026-11-28T09:06:00Z",
            },
            {
                "type": "track",
                "userId": "u-9",
                "event": "Acount Created",
                "timestamp": "2026-11-28T09:07:00Z",
            },
        ],
    )
    store.close()
    return url


def test_timeline_json_merges_anonymous_history(tmp_path: Path, example_plan: Plan) -> None:
    url = seed(tmp_path / "tw.db", example_plan)
    for key in ("u-9", "anon-9"):
        result = runner.invoke(app, ["timeline", key, "--store", url, "--json"])
        assert result.exit_code == 0, result.stdout
        document = json.loads(result.stdout)
        assert document["profile"]["userId"] == "u-9"
        assert document["profile"]["traits"]["email"] == "u9@example.com"
        assert document["anonymousIds"] == ["anon-9"]
        kinds = [
            (e["type"], e.get("event") or e.get("name"), e["verdict"]) for e in document["events"]
        ]
        assert kinds == [
            ("page", "Pricing", "accepted"),
            ("identify", None, "accepted"),
            ("track", "Account Created", "accepted"),
            ("track", "Acount Created", "blocked"),
        ]
        assert document["events"][2]["deliveries"] == {
            "customerio": {"status": "pending", "attempts": 0, "error": None, "at": None}
        }
        assert document["events"][3]["violations"][0]["suggestion"] == "Account Created"
        assert document["merges"][0]["outcome"] == "merged"


def test_timeline_readable_and_missing_store(tmp_path: Path, example_plan: Plan) -> None:
    url = seed(tmp_path / "tw.db", example_plan)
    result = runner.invoke(app, ["timeline", "u-9", "--store", url])
    assert result.exit_code == 0
    assert (
        "u-9" in result.stdout
        and "Pricing" in result.stdout
        and "email = 'u9@example.com'" in result.stdout
    )
    result = runner.invoke(app, ["timeline", "u-9", "--store", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 2 and "no store there yet" in result.stderr
    assert not (tmp_path / "none.db").exists()
