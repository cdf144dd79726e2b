"""`trackwell privacy ...`, `trackwell audit-log`, and the privacy parts of `replay` and
`backfill`, end to end through the Typer runner against a fake tool over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PLAN
from tests.privacy.people import (
    ADA,
    ADA_EMAIL,
    BOB,
    ada_messages,
    bob_messages,
    leftovers,
    seed,
    track,
)
from tests.privacy.tools import SECRET, PrivacyTool
from trackwell.cli import app
from trackwell.store import open_store

runner = CliRunner()


@pytest.fixture
def tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivacyTool]:
    """A configured project: trackwell.toml with one webhook destination (the fake tool), and
    a store holding Ada and Bob."""
    with PrivacyTool() as running:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "store").mkdir()
        (tmp_path / "trackwell.toml").write_text(
            f'plan = "{EXAMPLE_PLAN}"\nstore = "sqlite:///store/trackwell.db"\n'
            '[destinations.hook]\ntype = "webhook"\n'
        )
        monkeypatch.setenv("TRACKWELL_HOOK_URL", f"{running.url}{running.path}")
        monkeypatch.setenv("TRACKWELL_HOOK_SECRET", SECRET)
        for name in ("TRACKWELL_PLAN", "TRACKWELL_STORE", "TRACKWELL_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        store = open_store("sqlite:///store/trackwell.db")
        store.register_destination("hook")
        seed(store, ada_messages(), bob_messages())
        store.close()
        yield running


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def document(*args: str) -> Any:
    code, out, err = run(*args, "--json")
    assert code == 0, out + err
    return json.loads(out)


def test_erase_propagates_in_the_foreground_and_prints_receipts(
    tool: PrivacyTool, tmp_path: Path
) -> None:
    code, out, err = run("privacy", "erase", ADA, "--yes", "--json")
    assert code == 0, out + err
    request = json.loads(out)
    assert request["id"].startswith("prv_") and request["kind"] == "erase"
    assert request["status"] == "done" and request["identifiers"] == 3
    assert [(d["name"], d["status"]) for d in request["destinations"]] == [("hook", "done")]
    assert "erased from the store" in err and "propagating" in err
    assert [r["action"] for r in tool.privacy_requests] == ["erase"]
    assert leftovers(tmp_path / "store") == {}
    assert ADA not in out  # the receipt names the request, never the person

    assert document("privacy", "status", request["id"]) == request
    listed = document("privacy", "list")["requests"]
    assert [r["id"] for r in listed] == [request["id"]]
    entries = document("audit-log", "--action", "erase")["entries"]
    assert [(e["action"], e["target"]) for e in entries] == [("erase", request["id"])]
    assert entries[0]["actor"].startswith("cli")
    code, out, _ = run("privacy", "status", request["id"])
    assert code == 0 and "hook: done" in out


def test_a_refused_confirmation_does_nothing(tool: PrivacyTool) -> None:
    code, _, err = run("privacy", "erase", ADA, stdin="n\n")
    assert code == 1 and "Nothing done." in err
    assert document("privacy", "list")["requests"] == []
    assert tool.privacy_requests == []


def test_no_wait_leaves_the_destinations_to_the_router(tool: PrivacyTool) -> None:
    code, out, err = run("privacy", "suppress", BOB, "--yes", "--no-wait", "--json")
    assert code == 0, out + err
    request = json.loads(out)
    assert [d["status"] for d in request["destinations"]] == ["pending"]
    assert tool.privacy_requests == []
    code, out, err = run("route", "--once")
    assert code == 0, out + err
    assert document("privacy", "status", request["id"])["status"] == "done"
    assert [r["action"] for r in tool.privacy_requests] == ["suppress"]
    # Bob is suppressed: the router withheld his queued messages rather than sending them.
    assert tool.delivered_ids() == {"a-1", "a-2", "a-3", "a-4"}


def test_a_failed_destination_exits_1_with_the_tools_answer(tool: PrivacyTool) -> None:
    tool.fail_next(1, status=403, body={"error": "token lacks the privacy scope"})
    code, out, err = run("privacy", "erase", ADA_EMAIL, "--yes")
    assert code == 1, out + err
    assert "hook: failed" in out and "403" in out
    [request] = document("privacy", "list")["requests"]
    code, _, _ = run("privacy", "status", request["id"])
    assert code == 1


@pytest.mark.parametrize("person", ["", "a\x00b", "x" * 300])
def test_an_unusable_person_is_refused_before_anything_is_done(
    tool: PrivacyTool, person: str
) -> None:
    code, _, err = run("privacy", "erase", person, "--yes")
    assert code == 2 and "error:" in err
    assert document("privacy", "list")["requests"] == []


def test_an_unknown_request_is_an_error(tool: PrivacyTool) -> None:
    code, _, err = run("privacy", "status", "prv_nope")
    assert code == 2 and "no privacy request" in err


def test_replay_is_on_the_audit_log(tool: PrivacyTool) -> None:
    code, out, err = run("replay", "--destination", "hook", "--since", "1h")
    assert code == 0, out + err
    [entry] = document("audit-log")["entries"]
    assert (entry["action"], entry["target"]) == ("replay", "hook")
    assert entry["detail"]["scheduled"] == 6 and entry["detail"]["dead_only"] is False
    code, out, _ = run("audit-log", "--action", "erase")
    assert code == 0 and "No admin actions recorded for 'erase'." in out


def test_backfill_reports_withheld_people(tool: PrivacyTool, tmp_path: Path) -> None:
    run("privacy", "erase", ADA, "--yes", "--no-wait")
    file = tmp_path / "history.jsonl"
    file.write_text("".join(json.dumps(m) + "\n" for m in (track("h-1", BOB), track("h-2", ADA))))
    summary = document("backfill", str(file), "--destination", "hook")
    assert summary["withheld"] == {"erased": 1} and summary["privacy_checked"] is True
    assert summary["delivered"] == 1 and "h-2" not in tool.delivered_ids()

    code, out, err = run(
        "backfill", str(file), "--destination", "hook", "--restart", "--dry-run",
        "--store", f"sqlite:///{tmp_path / 'elsewhere.db'}",
    )  # fmt: skip
    assert code == 0, out + err
    assert "no privacy marks were checked" in err
    assert "No privacy marks were checked" in out
