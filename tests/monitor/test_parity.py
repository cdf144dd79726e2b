"""parity: accepted vs delivered, destination vs destination, and counts kept outside trackwell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.monitor.fakes import FakeMixpanelExport
from tests.monitor.helpers import TODAY, History, at, ms, only
from trackwell.monitor.context import day_label
from trackwell.monitor.external import ExternalError, MixpanelExport, read_csv

MIXPANEL = {"type": "mixpanel", "project_id": "4242"}
CREDENTIALS = {
    "TRACKWELL_MIXPANEL_SERVICE_ACCOUNT_USERNAME": "sa-user",
    "TRACKWELL_MIXPANEL_SERVICE_ACCOUNT_SECRET": "sa-secret",
}


@pytest.fixture
def export_fake() -> Iterator[FakeMixpanelExport]:
    with FakeMixpanelExport() as fake:
        yield fake


def test_accepted_and_delivered_agree_on_a_steady_history(steady: History) -> None:
    assert only(steady.evaluate(ms(TODAY, 8)), "parity") == []


def test_a_destination_that_lost_events_is_reported(steady: History) -> None:
    for hour in (9, 12, 15):
        steady.track(TODAY - 2, hour, "Account Created", 200)
        steady.deliver("mixpanel", ms(TODAY - 2, hour) + 5_000)
        steady.deliver(
            "customerio",
            ms(TODAY - 2, hour) + 5_000,
            outcome=lambda d: "dead" if d.seq % 2 else "delivered",
            error="400 bad",
        )
    [finding] = only(steady.evaluate(ms(TODAY, 8)), "parity")
    assert finding.key == "accepted:customerio"
    accepted = 7 * 30 + 600
    delivered = finding.numbers["events"]["Account Created"]["delivered"]
    assert finding.numbers["events"]["Account Created"]["accepted"] == accepted
    assert delivered == accepted - 300
    assert "dead" in finding.explanation
    assert "--a accepted --b customerio" in finding.explanation
    assert finding.severity == "critical"  # 37 % is over five times the threshold


def test_captured_messages_are_not_counted_as_delivered(steady: History) -> None:
    for hour in (9, 12, 15):
        steady.track(TODAY - 2, hour, "Account Created", 200)
        steady.deliver("mixpanel", ms(TODAY - 2, hour) + 5_000)
        steady.deliver(
            "customerio",
            ms(TODAY - 2, hour) + 5_000,
            outcome=lambda d: "captured" if d.seq % 2 else "delivered",
            error="capture mode: recorded, not sent to the tool",
        )
    [finding] = only(steady.evaluate(ms(TODAY, 8)), "parity")
    assert finding.key == "accepted:customerio"
    assert finding.numbers["events"]["Account Created"]["delivered"] == 7 * 30 + 300
    assert "300 captured, not sent" in finding.explanation


def test_a_destination_registered_mid_window_is_not_compared(steady: History) -> None:
    steady.store.register_destination("amplitude")
    steady.track(TODAY - 1, 9, "Feature Used", 10)
    steady.deliver("amplitude", ms(TODAY - 1, 9) + 5_000)
    steady.deliver("customerio", ms(TODAY - 1, 9) + 5_000)
    steady.deliver("mixpanel", ms(TODAY - 1, 9) + 5_000)
    assert only(steady.evaluate(ms(TODAY, 8)), "parity") == []


def test_destination_pairs_compare_the_events_both_take(steady: History) -> None:
    destinations = {"customerio": {"type": "customerio"}, "mixpanel": {"type": "mixpanel"}}
    options = {"parity": {"pairs": [["customerio", "mixpanel"]]}}
    assert only(steady.evaluate(ms(TODAY, 8), options, destinations=destinations), "parity") == []
    steady.track(TODAY - 1, 9, "Feature Used", 400)
    steady.deliver("customerio", ms(TODAY - 1, 9) + 5_000)
    steady.deliver("mixpanel", ms(TODAY - 1, 9) + 5_000, outcome="dead")
    findings = only(steady.evaluate(ms(TODAY, 8), options, destinations=destinations), "parity")
    assert {f.key for f in findings} == {
        "accepted:mixpanel",
        "destination:customerio|destination:mixpanel",
    }


def test_external_csv_counts(steady: History, tmp_path: Path) -> None:
    rows = ["date,event,count"]
    for day in range(TODAY - 7, TODAY):
        rows.append(f"{day_label(day)},Account Created,{30 if day != TODAY - 3 else 10}")
        rows.append(f"{day_label(day)},Feature Used,30")
    (tmp_path / "counts.csv").write_text("\n".join(rows) + "\n")
    options = {"parity": {"csv": "counts.csv", "min_events": 50}}
    [finding] = only(steady.evaluate(ms(TODAY, 8), options, base_dir=tmp_path), "parity")
    assert finding.key == "csv:counts.csv|accepted:"
    assert finding.numbers["events"] == {"Account Created": {"a": 190, "b": 210}}
    assert "CSV counts.csv and trackwell (accepted) differ by 9.5 %" in finding.title


def test_an_unreadable_csv_is_a_finding_not_a_crash(steady: History, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("date,event,count\n2026-01-01,Account Created,many\n")
    [finding] = only(
        steady.evaluate(ms(TODAY, 8), {"parity": {"csv": "bad.csv"}}, base_dir=tmp_path), "parity"
    )
    assert finding.title.startswith("Cannot compare CSV bad.csv")
    assert "bad.csv:2" in finding.explanation
    with pytest.raises(ExternalError, match=r"bad\.csv:2"):
        read_csv(tmp_path / "bad.csv")


def _export(fake: FakeMixpanelExport, day: int, event: str, count: int, *, start: int = 0) -> None:
    for index in range(count):
        stamp = int(at(day, 12).timestamp()) + index
        fake.events.append(
            {
                "event": event,
                "properties": {"time": stamp, "$insert_id": f"{event[:3]}-{day}-{start + index}"},
            }
        )


def test_mixpanel_export_counts_each_insert_id_once(export_fake: FakeMixpanelExport) -> None:
    _export(export_fake, TODAY - 2, "Account Created", 5)
    _export(export_fake, TODAY - 2, "Account Created", 2)  # re-sent: the same insert ids
    _export(export_fake, TODAY - 9, "Account Created", 4)  # outside the window
    _export(export_fake, TODAY - 2, "Feature Used", 3)
    client = MixpanelExport.for_destination(
        "mixpanel", {**MIXPANEL, "base_url": export_fake.url}, CREDENTIALS
    )
    try:
        counts = client.daily_counts(["Account Created"], TODAY - 7, TODAY - 1)
    finally:
        client.close()
    assert counts == {(TODAY - 2, "Account Created"): 5}
    [request] = export_fake.requests
    assert request.query["project_id"] == "4242"
    assert request.query["from_date"] == day_label(TODAY - 8)  # a day either side: time zones


def test_mixpanel_export_errors_are_reported(export_fake: FakeMixpanelExport) -> None:
    wrong = {**CREDENTIALS, "TRACKWELL_MIXPANEL_SERVICE_ACCOUNT_SECRET": "nope"}
    client = MixpanelExport.for_destination(
        "mixpanel", {**MIXPANEL, "base_url": export_fake.url}, wrong
    )
    try:
        with pytest.raises(ExternalError, match="answered 401"):
            client.daily_counts(["Account Created"], TODAY - 7, TODAY - 1)
    finally:
        client.close()
    with pytest.raises(ExternalError, match="no credentials"):
        MixpanelExport.for_destination("mixpanel", MIXPANEL, {})


def test_mixpanel_counting_fewer_than_trackwell_delivered(
    steady: History, export_fake: FakeMixpanelExport
) -> None:
    for day in range(TODAY - 7, TODAY):
        _export(export_fake, day, "Account Created", 30 if day != TODAY - 1 else 5)
        _export(export_fake, day, "Feature Used", 30)
    destinations = {"mixpanel": {**MIXPANEL, "base_url": export_fake.url}}
    options = {"parity": {"mixpanel_export": "mixpanel"}}
    evaluation = steady.evaluate(
        ms(TODAY, 8), options, destinations=destinations, environ=CREDENTIALS
    )
    [finding] = only(evaluation, "parity")
    assert finding.key == "mixpanel:mixpanel|destination:mixpanel"
    assert finding.numbers["events"] == {"Account Created": {"a": 185, "b": 210}}
    assert "dropping them after ingestion" in finding.explanation
