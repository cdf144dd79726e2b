"""`trackwell monitor`, `parity`, `audit` and `why` through the CLI, on stores dated today."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.monitor.fakes import FakeSlack
from tests.monitor.helpers import PLAN_YAML, History, at, identify_message, iso, ms
from trackwell.cli import app
from trackwell.cli.monitor import watch
from trackwell.monitor import Evaluation

runner = CliRunner()
REAL_TODAY = int(time.time() // 86400)


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "tracking-plan.yaml"
    path.write_text(PLAN_YAML)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[History]:
    """Three days before today: signups delivered to customerio within seconds."""
    history = History(tmp_path / "tw.db")
    history.store.register_destination("customerio")
    for day in range(REAL_TODAY - 3, REAL_TODAY):
        history.track(day, 9, "Account Created", 40, identify=True)
        history.deliver("customerio", ms(day, 9) + 5_000)
    history.store.close()
    yield history


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_monitor_once_without_findings(store: History, plan_file: Path) -> None:
    code, out, _ = invoke(
        "monitor", "--once", "--json", "--store", store.url, "--plan", str(plan_file)
    )
    assert code == 0, out
    document = json.loads(out)
    assert document["findings"] == []
    assert len(document["monitors"]) == 12
    code, out, _ = invoke("monitor", "--once", "--store", store.url, "--plan", str(plan_file))
    assert "No findings (12 monitors" in out


def test_monitor_once_alerts_and_exits_1(store: History, plan_file: Path, tmp_path: Path) -> None:
    history = History(tmp_path / "tw.db")
    leak = {"type": "track", "userId": "u-1", "event": "Feature Used", "timestamp": iso(at(REAL_TODAY)),
            "properties": {"feature_name": "billing", "password": "hunter2hunter2"}}  # fmt: skip
    history.send(REAL_TODAY, 0, [leak], source="web")
    history.deliver("customerio", int(time.time() * 1000))
    history.close()
    config = tmp_path / "trackwell.toml"
    config.write_text(
        '[alerts]\n[alerts.channels.team]\ntype = "slack"\n[monitors.volume_budget]\nbudgets = {customerio = 1000000}\n'
    )
    with FakeSlack() as slack:
        env = {"TRACKWELL_ALERT_TEAM_URL": f"{slack.url}{slack.path}"}
        args = (
            "--config",
            str(config),
            "monitor",
            "--once",
            "--store",
            store.url,
            "--plan",
            str(plan_file),
        )
        code, out, err = invoke(*args, env=env)
        assert code == 1
        assert "CRITICAL Sensitive data in 'Feature Used' from web: 1 today" in out
        assert "alert to team: trigger (new)" in err
        assert len(slack.messages) == 1
        code, _, err = invoke(*args, env=env)  # the same finding: no second message
        assert len(slack.messages) == 1
    state = json.loads((tmp_path / "alerts.json").read_text())
    assert list(state["alerts"]) == ["sensitive_data:web:Feature Used"]


def test_monitor_config_errors_exit_2(store: History, plan_file: Path, tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    config.write_text("[monitors.volume_dorp]\nmin_ratio = 0.1\n")
    code, _, err = invoke(
        "--config", str(config), "monitor", "--once", "--store", store.url, "--plan", str(plan_file)
    )
    assert code == 2
    assert "monitors.volume_dorp: no such monitor; did you mean 'volume_drop'?" in err
    config.write_text('[alerts.channels.team]\ntype = "slack"\n')
    code, _, err = invoke(
        "--config", str(config), "monitor", "--once", "--store", store.url, "--plan", str(plan_file)
    )
    assert code == 2
    assert "TRACKWELL_ALERT_TEAM_URL" in err


def test_watch_evaluates_every_interval(capsys: pytest.CaptureFixture[str]) -> None:
    rounds: list[int] = []

    def round_() -> Evaluation:
        rounds.append(1)
        return Evaluation(len(rounds), [], ("volume_drop",))

    naps: list[float] = []
    watch(round_, 0.01, True, sleep=naps.append, rounds=3)
    assert len(rounds) == 3
    assert [json.loads(line)["at"] for line in capsys.readouterr().out.splitlines()] == [1, 2, 3]


def test_monitor_runs_until_sigterm(store: History, plan_file: Path) -> None:
    command = [
        str(Path(sys.executable).parent / "trackwell"),
        "monitor",
        "--store",
        store.url,
        "--plan",
        str(plan_file),
        "--interval",
        "0.2",
    ]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "UTC: no findings" in first
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_parity_command_day_by_day(store: History, plan_file: Path, tmp_path: Path) -> None:
    args = [
        "parity",
        "--event",
        "Account Created",
        "--days",
        "3",
        "--a",
        "accepted",
        "--b",
        "customerio",
        "--store",
        store.url,
        "--plan",
        str(plan_file),
    ]
    code, out, _ = invoke(*args, "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["totals"] == [120, 120]
    assert [d["counts"] for d in document["days"]] == [[40, 40]] * 3
    counts = tmp_path / "mixpanel.csv"
    counts.write_text(
        "date,event,count\n"
        + "".join(f"{d['date']},Account Created,30\n" for d in document["days"])
    )
    code, out, _ = invoke(*args, "--csv", str(counts))
    assert code == 1
    assert "CSV" in out and "25 %" in out
    code, _, err = invoke("parity", "--event", "X", "--store", store.url, "--plan", str(plan_file))
    assert code == 2 and "--b" in err


def test_parity_against_a_destination_that_does_not_exist_is_an_error(
    store: History, plan_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "trackwell.toml"
    config.write_text('[destinations.mixpanel]\ntype = "mixpanel"\ncapture = true\n')
    base = ["--config", str(config), "parity", "--event", "Account Created"]
    tail = ["--store", store.url, "--plan", str(plan_file)]
    code, out, err = invoke(*base, "--b", "customerioo", *tail)
    assert code == 2 and out == ""
    assert "no destination named 'customerioo'; did you mean 'customerio'?" in err
    assert "known destinations: customerio, mixpanel" in err
    code, _, err = invoke(*base, "--a", "amplitude", "--b", "mixpanel-export:segment", *tail)
    assert code == 2
    assert "'amplitude'" in err and "'segment'" in err
    # Configured but never registered in the store, and registered but no longer configured:
    # both are known, and compared.
    for known, exit_code, delivered in (("mixpanel", 1, 0), ("customerio", 0, 120)):
        code, out, err = invoke(*base, "--b", known, "--days", "3", "--json", *tail)
        assert code == exit_code and err == "", err
        assert json.loads(out)["totals"] == [120, delivered]


def test_audit_command(store: History, plan_file: Path, tmp_path: Path) -> None:
    code, out, _ = invoke(
        "audit", "--days", "30", "--markdown", "--store", store.url, "--plan", str(plan_file)
    )
    assert code == 0
    assert "| Button Clicked | Engagement | none |" in out
    code, out, _ = invoke("audit", "--json", "--store", store.url, "--plan", str(plan_file))
    assert [e["name"] for e in json.loads(out)["unused"]] == ["Button Clicked", "Feature Used"]
    sample = tmp_path / "sample.jsonl"
    sample.write_text(
        "".join(json.dumps(identify_message(f"s-{n}", at(REAL_TODAY))) + "\n" for n in range(20))
    )
    code, out, _ = invoke(
        "audit", "--json", "--sample", str(sample), "--store", store.url, "--plan", str(plan_file)
    )
    assert json.loads(out)["traits_never_set"] == ["plan"]
    code, out, _ = invoke("audit", "--store", store.url, "--plan", str(plan_file))
    assert "Tracking plan audit" in out


def test_why_command(store: History, plan_file: Path, tmp_path: Path) -> None:
    history = History(tmp_path / "tw.db")
    history.send(REAL_TODAY - 1, 10, [identify_message("bob", at(REAL_TODAY - 1, 10)),
                                      {"type": "track", "userId": "bob", "event": "Acount Created", "timestamp": iso(at(REAL_TODAY - 1, 10))}])  # fmt: skip
    history.close()
    args = [
        "why",
        "bob",
        "--event",
        "Account Created",
        "--store",
        store.url,
        "--plan",
        str(plan_file),
    ]
    code, out, _ = invoke(*args, "--json")
    assert code == 0
    document = json.loads(out)
    assert [d["code"] for d in document["diagnosis"]] == ["never_arrived", "other_name"]
    assert document["profile"]["userId"] == "bob"
    assert [e["event"] for e in document["events"] if e["type"] == "track"] == ["Acount Created"]
    code, out, _ = invoke(*args)
    assert "It arrived as 'Acount Created'" in out
    code, out, _ = invoke(*args, "--since", "1h", "--json")
    assert json.loads(out)["events"] == []
    code, _, err = invoke(*args, "--since", "yesterday")
    assert code == 2 and "--since" in err


def test_why_workflow_and_identity_through_the_cli(
    store: History, plan_file: Path, tmp_path: Path
) -> None:
    history = History(tmp_path / "tw.db")
    moment = at(REAL_TODAY - 1, 10)
    history.send(REAL_TODAY - 1, 10, [
        {**identify_message("amy", moment), "anonymousId": "shared-device"},
        {**identify_message("ben", moment), "anonymousId": "shared-device"},
        {"type": "track", "userId": "ben", "event": "Account Created", "timestamp": iso(moment),
         "properties": {"plan": "free"}},
    ])  # fmt: skip
    history.close()
    config = tmp_path / "trackwell.toml"
    config.write_text('[workflows]\n"Welcome email" = { customerio_campaign_id = 12 }\n')
    base = ["--config", str(config), "why", "ben", "--store", store.url, "--plan", str(plan_file)]
    code, out, _ = invoke(*base)
    assert code == 0
    assert "Nothing wrong" not in out
    assert "Identity conflict" in out and "already belongs to user 'amy'" in out
    code, out, _ = invoke(*base, "--workflow", "welcome email", "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["workflow"] == {"name": "Welcome email", "campaignIds": ["12"]}
    # The workflow's event, Account Created: never routed (no router ran over this store).
    assert [d["code"] for d in document["diagnosis"]] == ["identity_conflict", "delivery_stuck"]
    assert [e["reports"] for e in document["events"]] == [[], []]
    code, out, _ = invoke(*base, "--workflow", "Welcome email")
    assert "Why workflow 'Welcome email'" in out
    code, _, err = invoke(*base, "--workflow", "Welcome emial")
    assert code == 2 and "did you mean 'Welcome email'?" in err
    config.write_text('[workflows]\n"Welcome email" = { campaign = 12 }\n')
    code, _, err = invoke(*base)
    assert code == 2 and "customerio_campaign_id" in err
