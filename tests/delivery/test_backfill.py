"""`trackwell backfill`: history with original times, validated, resumable, idempotent."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PLAN
from tests.fakes.webhook import FakeWebhook
from trackwell.cli import app
from trackwell.core.consent import ConsentConfigError, ConsentPolicy, MissingConsent
from trackwell.core.outcomes import Outcome
from trackwell.destinations.webhook import Webhook
from trackwell.io.backfill_files import content_id
from trackwell.pipeline.backfill import (
    MAX_ATTEMPTS,
    RETRY_POLICY,
    BackfillOptions,
    checkpoint_path,
    run_backfill,
)
from trackwell.plan import load_plan
from trackwell.quality import compile_plan

runner = CliRunner()
DAY = 86400
SECRET = "whsec-backfill-test-secret"


def event(i: int, *, days_ago: float = 30, **fields: Any) -> dict[str, Any]:
    import time

    data: dict[str, Any] = {
        "type": "track",
        "userId": f"u-{i % 7}",
        "event": "Feature Used",
        "properties": {"feature_name": "projects", "usage_count": i + 1},
        "timestamp": int(time.time() - days_ago * DAY),
        "messageId": f"h-{i}",
    }
    data.update(fields)
    return data


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook(secret=SECRET) as fake:
        yield fake


@pytest.fixture
def destination(hook: FakeWebhook) -> Iterator[Webhook]:
    made = Webhook("hook", url=f"{hook.url}/hooks/trackwell", secret=SECRET, batch_size=10)
    yield made
    made.close()


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_history_is_sent_once_with_original_times_and_a_rerun_sends_nothing(
    tmp_path: Path, hook: FakeWebhook, destination: Webhook
) -> None:
    rows = [event(i) for i in range(45)]
    rows.append(event(45, days_ago=500))  # older than 13 months: refused
    rows.append(event(46, event="Featur Used"))  # not in the plan: refused
    rows.append(
        {
            "type": "track",
            "userId": "u-1",
            "event": "Feature Used",
            "properties": {"feature_name": "projects"},
        }
    )  # no time
    file = write(tmp_path / "history.jsonl", rows)
    plan = compile_plan(load_plan(EXAMPLE_PLAN))
    options = BackfillOptions(state_dir=tmp_path / "state", batch_size=10)
    report = run_backfill(file, "jsonl", plan, destination, options)
    assert (report.read, report.delivered, report.refused, report.failed) == (48, 45, 3, 0)
    assert report.reasons == {"too_old": 1, "unplanned_event": 1, "missing_timestamp": 1}
    sent = {m["messageId"]: m for m in hook.messages}
    assert len(sent) == 45
    # The original action time, not the time of the backfill.
    from trackwell.core.messages import parse_time

    assert int(parse_time(sent["h-3"]["timestamp"], "t").timestamp()) == rows[3]["timestamp"]
    errors = [json.loads(line) for line in Path(str(report.errors_file)).read_text().splitlines()]
    assert {e["code"] for e in errors} == {"too_old", "unplanned_event", "missing_timestamp"}
    requests_before = len(hook.requests)
    again = run_backfill(file, "jsonl", plan, destination, options)
    assert again.delivered == 0 and again.skipped == 48
    assert len(hook.requests) == requests_before  # nothing was sent twice


def test_a_stopped_run_resumes_where_it_stopped(
    tmp_path: Path, hook: FakeWebhook, destination: Webhook
) -> None:
    file = write(tmp_path / "history.jsonl", [event(i) for i in range(40)])
    plan = compile_plan(load_plan(EXAMPLE_PLAN))
    options = BackfillOptions(state_dir=tmp_path / "state", batch_size=10)
    calls = {"n": 0}

    class StoppedByUserError(Exception):  # stands for Ctrl-C
        pass

    def stop_after_two_batches(report: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoppedByUserError  # like Ctrl-C between batches

    with pytest.raises(StoppedByUserError):
        run_backfill(file, "jsonl", plan, destination, options, stop_after_two_batches)
    assert len(hook.messages) == 20
    resumed = run_backfill(file, "jsonl", plan, destination, options)
    assert resumed.skipped == 20 and resumed.delivered == 20
    assert sorted(m["messageId"] for m in hook.messages) == sorted(f"h-{i}" for i in range(40))


def test_a_changed_file_needs_restart_and_ids_keep_a_restart_idempotent(
    tmp_path: Path, hook: FakeWebhook, destination: Webhook
) -> None:
    rows = [{k: v for k, v in event(i).items() if k != "messageId"} for i in range(12)]
    file = write(tmp_path / "history.jsonl", rows)
    plan = compile_plan(load_plan(EXAMPLE_PLAN))
    options = BackfillOptions(state_dir=tmp_path / "state", batch_size=5)
    run_backfill(file, "jsonl", plan, destination, options)
    write(file, [*rows, event(99)])
    from trackwell.pipeline.backfill import BackfillError

    with pytest.raises(BackfillError, match="--restart"):
        run_backfill(file, "jsonl", plan, destination, options)
    restarted = run_backfill(
        file,
        "jsonl",
        plan,
        destination,
        BackfillOptions(state_dir=tmp_path / "state", batch_size=5, restart=True),
    )
    assert restarted.delivered == 13
    # Content-derived ids: the 12 already sent are the same messages; the receiver dedups them.
    assert len(hook.messages) == 13
    assert {m["messageId"] for m in hook.messages} >= {content_id(r) for r in rows}


def test_csv_with_the_header_convention(
    tmp_path: Path, hook: FakeWebhook, destination: Webhook
) -> None:
    import time

    stamp = int(time.time() - 10 * DAY)
    file = tmp_path / "history.csv"
    file.write_text(
        "userId,event,timestamp,properties.plan_name,properties.plan_price_cents,properties.billing_period,properties.trial_converted\n"
        f"u-1,Subscription Started,{stamp},pro,19900,monthly,true\n"
        f"u-2,Subscription Started,{stamp},pro,not-a-number,monthly,false\n"
    )
    plan = compile_plan(load_plan(EXAMPLE_PLAN))
    report = run_backfill(file, "csv", plan, destination, BackfillOptions(state_dir=tmp_path / "s"))
    assert (report.delivered, report.refused) == (1, 1)
    (message,) = hook.messages
    assert message["properties"] == {
        "plan_name": "pro",
        "plan_price_cents": 19900,
        "billing_period": "monthly",
        "trial_converted": True,
    }


def test_the_command_line(
    tmp_path: Path, hook: FakeWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trackwell.toml").write_text(
        f'plan = "{EXAMPLE_PLAN}"\n[destinations.hook]\ntype = "webhook"\n'
    )
    monkeypatch.setenv("TRACKWELL_HOOK_URL", f"{hook.url}/hooks/trackwell")
    monkeypatch.setenv("TRACKWELL_HOOK_SECRET", SECRET)
    monkeypatch.delenv("TRACKWELL_PLAN", raising=False)
    file = write(tmp_path / "h.jsonl", [event(i) for i in range(5)])
    dry = runner.invoke(
        app, ["backfill", str(file), "--destination", "hook", "--dry-run", "--json"]
    )
    assert dry.exit_code == 0, dry.stdout + dry.stderr
    assert json.loads(dry.stdout)["delivered"] == 5 and hook.messages == []
    result = runner.invoke(app, ["backfill", str(file), "--destination", "hook", "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["delivered"] == 5 and len(hook.messages) == 5
    missing = runner.invoke(app, ["backfill", str(file), "--destination", "nope"])
    assert missing.exit_code == 2 and "no destination 'nope'" in missing.stderr
    assert os.environ["TRACKWELL_HOOK_SECRET"] not in result.stdout + result.stderr


def test_captured_lines_are_never_checkpointed_so_a_run_with_credentials_sends_them(
    tmp_path: Path, hook: FakeWebhook, destination: Webhook
) -> None:
    rows = [event(i) for i in range(25)]
    rows.insert(0, event(99, days_ago=500))  # refused before anything is captured
    file = write(tmp_path / "history.jsonl", rows)
    plan = compile_plan(load_plan(EXAMPLE_PLAN))
    options = BackfillOptions(state_dir=tmp_path / "state", batch_size=10)
    capture = Webhook("hook", url=f"{hook.url}/hooks/trackwell", capture=True, batch_size=10)
    report = run_backfill(file, "jsonl", plan, capture, options)
    assert (report.captured, report.delivered, report.refused) == (25, 0, 1)
    assert report.captured_from == 2 and hook.requests == []
    saved = json.loads(checkpoint_path(file, "hook", options.state_dir).read_text())
    # Up to the refused line only: the captured lines were never sent.
    assert (saved["line"], saved["finished"]) == (1, False)

    sent = run_backfill(file, "jsonl", plan, destination, options)
    assert (sent.skipped, sent.delivered, sent.captured) == (1, 25, 0)
    assert sorted(m["messageId"] for m in hook.messages) == sorted(f"h-{i}" for i in range(25))
    again = run_backfill(file, "jsonl", plan, destination, options)
    assert (again.skipped, again.delivered) == (26, 0)


def test_the_command_line_in_capture_mode_reports_captured_not_delivered(
    tmp_path: Path, hook: FakeWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trackwell.toml").write_text(
        f'plan = "{EXAMPLE_PLAN}"\n[destinations.hook]\ntype = "webhook"\nmode = "capture"\n'
    )
    monkeypatch.setenv("TRACKWELL_HOOK_URL", f"{hook.url}/hooks/trackwell")
    monkeypatch.delenv("TRACKWELL_HOOK_SECRET", raising=False)
    monkeypatch.delenv("TRACKWELL_PLAN", raising=False)
    file = write(tmp_path / "h.jsonl", [event(i) for i in range(5)])
    result = runner.invoke(app, ["backfill", str(file), "--destination", "hook", "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert (summary["captured"], summary["delivered"]) == (5, 0) and hook.requests == []
    text = runner.invoke(app, ["backfill", str(file), "--destination", "hook"])
    assert "5 captured, not sent" in text.stdout and "0 already done" in text.stdout


def test_a_nul_in_an_id_or_a_name_is_refused_naming_the_field(
    tmp_path: Path, hook: FakeWebhook, destination: Webhook
) -> None:
    """As the gateway and the SDK do: ids and names may not hold NUL; values keep it."""
    rows = [
        event(1, userId="u\u00001"),
        event(2, event="Feature\u0000Used"),
        event(3, context={"note": "a\u0000b"}),
    ]
    file = write(tmp_path / "history.jsonl", rows)
    plan = compile_plan(load_plan(EXAMPLE_PLAN))
    report = run_backfill(
        file, "jsonl", plan, destination, BackfillOptions(state_dir=tmp_path / "s")
    )
    assert (report.delivered, report.refused) == (1, 2)
    errors = Path(str(report.errors_file)).read_text()
    assert "userId" in errors and "event" in errors and "NUL" in errors
    (sent,) = hook.messages
    assert sent["context"]["note"] == "a\u0000b"


class Flaky(Webhook):
    """A webhook whose tool answers 503 (Retry-After: 0) to the first `failures` attempts."""

    def __init__(self, url: str, failures: int) -> None:
        super().__init__("hook", url=url, secret=SECRET, batch_size=10)
        self.failures = failures
        self.attempts = 0

    def deliver(self, messages: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        self.attempts += 1
        if self.attempts <= self.failures:
            return [Outcome("retry", "HTTP 503", retry_after=0.0)] * len(messages)
        return super().deliver(messages)


def test_backfill_retries_with_the_routers_policy_and_gives_up_after_its_attempts(
    tmp_path: Path, hook: FakeWebhook
) -> None:
    """One retry policy (`pipeline/retry.py`): Retry-After honoured, dead after max_attempts."""
    file = write(tmp_path / "history.jsonl", [event(i) for i in range(3)])
    plan = compile_plan(load_plan(EXAMPLE_PLAN))
    url = f"{hook.url}/hooks/trackwell"
    recovering = Flaky(url, failures=2)
    report = run_backfill(
        file, "jsonl", plan, recovering, BackfillOptions(state_dir=tmp_path / "a")
    )
    assert (report.delivered, report.failed, recovering.attempts) == (3, 0, 3)

    down = Flaky(url, failures=100)
    options = BackfillOptions(state_dir=tmp_path / "b")
    report = run_backfill(file, "jsonl", plan, down, options)
    assert (report.delivered, report.failed) == (0, 3)
    assert down.attempts == RETRY_POLICY.max_attempts == MAX_ATTEMPTS
    errors = [json.loads(line) for line in Path(str(report.errors_file)).read_text().splitlines()]
    assert {e["reason"] for e in errors} == {"gave up after 8 attempts; last: HTTP 503"}
    recovering.close()
    down.close()


@pytest.mark.parametrize("missing", ["deliver", "hold", "drop"])
def test_a_destination_requiring_consent_gets_only_consented_history(
    tmp_path: Path, hook: FakeWebhook, missing: MissingConsent
) -> None:
    import dataclasses

    def consent(granted: bool) -> dict[str, Any]:
        return {"context": {"consent": {"categoryPreferences": {"marketing": granted}}}}

    rows = [event(0, **consent(True)), event(1, **consent(False)), event(2)]
    file = write(tmp_path / "history.jsonl", rows)
    crm = Webhook("crm", url=f"{hook.url}/hooks/trackwell", secret=SECRET, consent=("marketing",))
    base = load_plan(EXAMPLE_PLAN)
    options = BackfillOptions(state_dir=tmp_path / "state", batch_size=10)
    try:
        with pytest.raises(ConsentConfigError, match="crm require consent"):
            run_backfill(file, "jsonl", compile_plan(base), crm, options)
        policy = dataclasses.replace(base.policy, consent=ConsentPolicy(missing))
        plan = compile_plan(dataclasses.replace(base, policy=policy))
        report = run_backfill(file, "jsonl", plan, crm, options)
    finally:
        crm.close()
    sent = sorted(m["messageId"] for m in hook.messages)
    assert sent == (["h-0", "h-2"] if missing == "deliver" else ["h-0"])
    assert report.reasons == {"no_consent": 1 if missing == "deliver" else 2}
    errors = [json.loads(line) for line in Path(str(report.errors_file)).read_text().splitlines()]
    reasons = {e["line"]: e["reason"] for e in errors}
    assert reasons[2] == "no consent for marketing (the message's consent)"
    if missing == "hold":
        assert "a backfill cannot wait" in reasons[3]
