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


def _feature_used(count: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "track",
            "userId": f"u-{i}",
            "event": "Feature Used",
            "properties": {"feature_name": "projects"},
            "messageId": f"{prefix}-{i}",
        }
        for i in range(count)
    ]


def test_missing_credentials_stop_serve_route_and_backfill_naming_each_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKWELL_PLAN", raising=False)
    for variable in ("TRACKWELL_HOOK_SECRET", "TRACKWELL_CIO_SITE_ID", "TRACKWELL_CIO_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "trackwell.toml").write_text(
        f'plan = "{EXAMPLE_PLAN}"\nstore = "sqlite:///{tmp_path / "tw.db"}"\n'
        '[destinations.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/in"\n'
        '[destinations.cio]\ntype = "customerio"\n'
    )
    (tmp_path / "h.jsonl").write_text(json.dumps(_feature_used(1, "h")[0]) + "\n")
    expected = [
        "destinations.hook: TRACKWELL_HOOK_SECRET is not set",
        "destinations.cio: TRACKWELL_CIO_SITE_ID is not set",
        "destinations.cio: TRACKWELL_CIO_API_KEY is not set",
    ]
    for args in (["route", "--once"], ["serve", "--port", "0", "--write-key", "k"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.stdout + result.stderr
        problems = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        # One line per missing variable, every destination's at once.
        assert [p.removeprefix("error: ").split(":")[0:2] for p in problems] == [
            e.split(":")[0:2] for e in expected
        ]
        assert all(e in result.stderr for e in expected)
    backfill = runner.invoke(app, ["backfill", "h.jsonl", "--destination", "hook"])
    assert backfill.exit_code == 2
    assert "TRACKWELL_HOOK_SECRET is not set" in backfill.stderr
    assert "TRACKWELL_CIO" not in backfill.stderr  # only the destination it sends to matters
    assert not (tmp_path / ".trackwell").exists()  # nothing checkpointed


def test_capture_mode_is_captured_everywhere_and_replayed_once_credentials_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeWebhook(secret=SECRET) as hook:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("TRACKWELL_HOOK_URL", f"{hook.url}/hooks/trackwell")
        monkeypatch.delenv("TRACKWELL_HOOK_SECRET", raising=False)
        config = tmp_path / "trackwell.toml"
        config.write_text('[destinations.hook]\ntype = "webhook"\nmode = "capture"\n')
        url = f"sqlite:///{tmp_path / 'tw.db'}"
        store = open_store(url)
        store.register_destination("hook")
        accept(store, compile_plan(load_plan(EXAMPLE_PLAN)), _feature_used(6, "c"))
        store.close()

        code, out = run("route", "--store", url, "--once")
        assert code == 0 and "capture mode" in out, out
        assert hook.requests == []  # nothing reached the tool
        state = deliveries(url)["hook"]
        assert (state["captured"], state["delivered"], state["pending"]) == (6, 0, 0)
        assert state["last_error"] is None
        monkeypatch.setenv("COLUMNS", "200")
        code, out = run("deliveries", "--store", url)
        assert code == 0 and "captured" in out
        code, out = run("timeline", "u-1", "--store", url, "--json")
        assert code == 0, out
        (event,) = json.loads(out)["events"]
        assert event["deliveries"]["hook"]["status"] == "captured"

        # Credentials arrive: the captured messages go to the real tool once replayed.
        config.write_text('[destinations.hook]\ntype = "webhook"\n')
        monkeypatch.setenv("TRACKWELL_HOOK_SECRET", SECRET)
        code, out = run("route", "--store", url, "--once")
        assert "6 message(s) captured earlier were never sent to hook" in out
        assert hook.requests == []  # a replay is asked for, never implied
        code, out = run("replay", "--store", url, "--destination", "hook", "--captured")
        assert code == 0 and "Scheduled 6 message(s)" in out, out
        code, out = run("route", "--store", url, "--once")
        assert code == 0, out
        state = deliveries(url)["hook"]
        assert (state["captured"], state["delivered"], state["retry"]) == (0, 6, 0)
        assert sorted(m["messageId"] for m in hook.messages) == [f"c-{i}" for i in range(6)]


def test_the_serve_banner_names_destinations_in_capture_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from trackwell.cli import serve as serve_cli
    from trackwell.io.config import Settings

    tables = {"dev": {"type": "webhook", "mode": "capture"}, "cio": {"type": "customerio"}}
    settings = Settings(plan=Path("plan.yaml"), store="sqlite:///x.db", destinations=tables)
    serve_cli._banner("http://127.0.0.1:8000", settings, None, tls=False)
    out = capsys.readouterr().out
    assert "dev: capture mode (requests recorded, not sent)" in out and "cio:" not in out


def test_consent_is_refused_unstated_then_held_shown_and_decided_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeWebhook(secret=SECRET) as hook:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("TRACKWELL_HOOK_URL", f"{hook.url}/hooks/trackwell")
        monkeypatch.setenv("TRACKWELL_HOOK_SECRET", SECRET)
        plan_text = EXAMPLE_PLAN.read_text()
        plan = tmp_path / "tracking-plan.yaml"
        plan.write_text(plan_text)
        (tmp_path / "trackwell.toml").write_text(
            f'plan = "{plan}"\n[destinations.hook]\ntype = "webhook"\nconsent = ["marketing"]\n'
        )
        url = f"sqlite:///{tmp_path / 'tw.db'}"
        store = open_store(url)
        store.register_destination("hook")
        consented = {"context": {"consent": {"categoryPreferences": {"marketing": True}}}}
        messages = _feature_used(3, "k")
        messages[0].update(consented)
        accept(store, compile_plan(load_plan(EXAMPLE_PLAN)), messages)
        store.close()

        # The plan says nothing about missing consent: nothing is routed, the cause is named.
        code, out = run("route", "--store", url, "--once")
        assert code == 2 and "hook require consent" in out and "missing_consent" in out, out
        assert hook.requests == []

        policy = "policy:\n  consent:\n    missing_consent: hold\n"
        plan.write_text(plan_text.replace("policy:\n", policy, 1))
        code, out = run("route", "--store", url, "--once")
        assert code == 0, out
        assert [m["messageId"] for m in hook.messages] == ["k-0"]
        state = deliveries(url)["hook"]
        assert (state["delivered"], state["held"], state["no_consent"]) == (1, 2, 0)
        monkeypatch.setenv("COLUMNS", "240")
        code, out = run("deliveries", "--store", url)
        assert code == 0 and "no consent" in out and "held" in out

        # The plan now drops what has no consent information; a replay decides them again.
        plan.write_text(plan_text.replace("policy:\n", policy.replace("hold", "drop"), 1))
        code, out = run("replay", "--store", url, "--destination", "hook", "--held")
        assert code == 0 and "Scheduled 2 message(s)" in out, out
        code, out = run("route", "--store", url, "--once")
        assert code == 0, out
        state = deliveries(url)["hook"]
        assert (state["delivered"], state["held"], state["no_consent"]) == (1, 0, 2)
        code, out = run("why", "u-1", "--store", url)
        assert "not delivered to hook: no consent information" in out, out
        assert [m["messageId"] for m in hook.messages] == ["k-0"]
