"""Backfill never sends an erased or suppressed person's history: each batch is screened against
the store's marks, and what is withheld is counted, logged by line, and never sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.privacy.people import (
    ADA,
    ADA_ANON,
    ADA_EMAIL,
    BOB,
    PLAN,
    ada_messages,
    bob_messages,
    identify,
    leftovers,
    seed,
    track,
)
from tests.privacy.tools import PrivacyTool, hook
from trackwell.pipeline.backfill import BackfillOptions, run_backfill
from trackwell.pipeline.privacy import PrivacyService
from trackwell.store import Store, open_store

CARL = "carl-91aa"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    (tmp_path / "store").mkdir()
    opened = open_store(f"sqlite:///{tmp_path / 'store' / 'trackwell.db'}")
    yield opened
    opened.close()


def history(path: Path) -> Path:
    """A history file: Ada under each of her identifiers, Carl, and Bob."""
    lines = [
        track("h-1", BOB),
        track("h-2", ADA),
        track("h-3", None, anonymous=ADA_ANON),
        identify("h-4", "ada-old-login", ADA_EMAIL, "anon-other"),  # her email alone
        track("h-5", CARL),
        track("h-6", BOB),
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_backfill_withholds_erased_and_suppressed_people(store: Store, tmp_path: Path) -> None:
    seed(store, ada_messages(), bob_messages())
    service = PrivacyService(store, [])
    service.request("erase", ADA, actor="test")
    service.request("suppress", CARL, actor="test")  # never seen here: marked all the same
    file = history(tmp_path / "history.jsonl")
    options = BackfillOptions(batch_size=2, state_dir=tmp_path / "state")
    with PrivacyTool() as tool:
        target = hook("hook", tool)
        report = run_backfill(file, "jsonl", PLAN, target, options, privacy=store)
        again = run_backfill(file, "jsonl", PLAN, target, options, privacy=store)
        target.close()
        assert tool.delivered_ids() == {"h-1", "h-6"}
        sent = tool.sent_text()
    assert report.privacy_checked and report.delivered == 2
    assert report.withheld == {"erased": 3, "suppressed": 1}
    for secret in (ADA, ADA_ANON, ADA_EMAIL, CARL):
        assert secret not in sent
    assert again.delivered == 0 and again.withheld == {}  # the checkpoint passed them
    assert report.errors_file is not None
    logged = [json.loads(line) for line in Path(report.errors_file).read_text().splitlines()]
    assert [(e["line"], e["code"]) for e in logged] == [
        (2, "erased"),
        (3, "erased"),
        (4, "erased"),
        (5, "suppressed"),
    ]
    # The errors file names lines, never the people.
    assert leftovers(Path(report.errors_file).parent, (ADA, ADA_ANON, ADA_EMAIL, CARL)) == {}


def test_backfill_without_a_store_says_no_marks_were_checked(tmp_path: Path) -> None:
    file = history(tmp_path / "history.jsonl")
    with PrivacyTool() as tool:
        target = hook("hook", tool)
        options = BackfillOptions(dry_run=True, state_dir=tmp_path / "state")
        report = run_backfill(file, "jsonl", PLAN, target, options)
        target.close()
    assert not report.privacy_checked and report.withheld == {}
