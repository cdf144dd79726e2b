"""Backfill: send history to one destination with its original action times, resumably.

Each record is normalised and checked against the plan (stale timestamps allowed), refused
when older than `max_age`, and delivered in batches at a bounded rate with retries. After each
acknowledged batch a checkpoint is written atomically, so a run stopped by Ctrl-C or a crash
resumes where it stopped, and a finished run sends nothing when started again. A line captured
by a destination in capture mode was never sent, so the checkpoint never passes it: the next run
(with credentials) sends it. Records without
a messageId get one derived from their content, so even a fresh re-run is deduplicated by the
destination's own id field.

Each batch is screened against the store's privacy marks before it is sent (`privacy=`): a
record of a person who was erased or is suppressed is withheld — counted per reason, listed by
line in the errors file, never sent — and the checkpoint passes it, as it passes a refusal.
Without a store to screen through, the report says that no marks were checked.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trackwell.core.messages import MessageError, from_json, normalise, to_json
from trackwell.core.privacy import MarkKind
from trackwell.core.ratelimit import TokenBucket
from trackwell.destinations.base import Destination
from trackwell.io.backfill_files import Row, read_rows
from trackwell.pipeline.retry import RetryPolicy
from trackwell.quality.check import check_message
from trackwell.quality.compiled import CompiledPlan
from trackwell.store.base import Privacy

DEFAULT_MAX_AGE = timedelta(days=395)
CAMPAIGN_WINDOW = timedelta(hours=72)
MAX_ATTEMPTS = 8
# A backfill waits in the foreground for its batch, so it gives up sooner and backs off less
# than the router, whose queue keeps a message for as long as it takes.
RETRY_POLICY = RetryPolicy(max_attempts=MAX_ATTEMPTS, backoff_base=0.5, backoff_cap=30.0)


class BackfillError(Exception):
    """A backfill that cannot start: unreadable file, changed file under a checkpoint."""


@dataclass
class Checkpoint:
    """Progress of one file to one destination, written after every acknowledged batch."""

    file: str
    destination: str
    size: int
    mtime_ns: int
    line: int = 0  # the last line fully handled
    delivered: int = 0
    refused: int = 0
    failed: int = 0
    finished: bool = False


@dataclass
class BackfillReport:
    """What a run did; the CLI prints it."""

    read: int = 0
    delivered: int = 0
    captured: int = 0  # recorded in capture mode, not sent: left for a run with credentials
    captured_from: int | None = None  # the first captured line; the checkpoint stays before it
    refused: int = 0
    failed: int = 0
    skipped: int = 0  # handled by an earlier run
    recent: int = 0  # younger than 72 h: Customer.io may start campaigns for these
    seconds: float = 0.0
    resumed_from: int = 0
    errors_file: str | None = None
    dry_run: bool = False
    reasons: dict[str, int] = field(default_factory=dict)
    # Not sent because the person was erased or is suppressed, per mark.
    withheld: dict[str, int] = field(default_factory=dict)
    privacy_checked: bool = False  # whether batches were screened against a store's marks


# Why a record was withheld, as the errors file says it (never the person's identifiers).
WITHHELD_REASONS: dict[MarkKind, str] = {
    "erased": "the person was erased: never sent again",
    "suppressed": "the person is suppressed: nothing new is sent for them",
}


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    """How to run: rate, age limit, batch size, where to keep state."""

    rate: float | None = None
    max_age: timedelta = DEFAULT_MAX_AGE
    batch_size: int = 100
    dry_run: bool = False
    state_dir: Path = Path(".trackwell/backfill")
    restart: bool = False


Progress = Callable[[BackfillReport], None]


def checkpoint_path(file: Path, destination: str, state_dir: Path) -> Path:
    """Where the checkpoint of one file and destination lives."""
    key = hashlib.sha256(f"{file.resolve()}|{destination}".encode()).hexdigest()[:16]
    return state_dir / f"{file.name}.{destination}.{key}.json"


def _load_checkpoint(path: Path, file: Path, destination: str, restart: bool) -> Checkpoint:
    stat = file.stat()
    fresh = Checkpoint(str(file.resolve()), destination, stat.st_size, stat.st_mtime_ns)
    if restart or not path.exists():
        return fresh
    saved = Checkpoint(**json.loads(path.read_text()))
    if (saved.size, saved.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        raise BackfillError(
            f"{file} changed since the run that left {path}; pass --restart to send it from the start "
            "(records keep their ids, so the destination deduplicates what was already sent)"
        )
    return saved


def _save(path: Path, checkpoint: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(checkpoint)))
    temporary.replace(path)  # atomic: a crash leaves the old or the new checkpoint


def run_backfill(
    file: Path,
    fmt: str,
    plan: CompiledPlan,
    destination: Destination,
    options: BackfillOptions,
    progress: Progress | None = None,
    now: datetime | None = None,
    *,
    privacy: Privacy | None = None,
) -> BackfillReport:
    """Backfill `file` into `destination`; resumable, idempotent, rate-limited; each batch
    screened through `privacy` (the store's marks) when given."""
    started = time.monotonic()
    received = now or datetime.now(UTC)
    state = checkpoint_path(file, destination.name, options.state_dir)
    checkpoint = _load_checkpoint(state, file, destination.name, options.restart)
    report = BackfillReport(
        resumed_from=checkpoint.line, dry_run=options.dry_run, privacy_checked=privacy is not None
    )
    errors = state.with_suffix(".errors.jsonl")
    if not options.dry_run:
        state.parent.mkdir(parents=True, exist_ok=True)
    report.errors_file = str(errors)
    limiter = TokenBucket(options.rate or destination.rate_limit)
    batch: list[tuple[int, dict[str, Any]]] = []
    with errors.open("a", encoding="utf-8") if not options.dry_run else _Null() as error_log:

        def refuse(line: int, reason: str, code: str) -> None:
            report.refused += 1
            report.reasons[code] = report.reasons.get(code, 0) + 1
            error_log.write(json.dumps({"line": line, "code": code, "reason": reason}) + "\n")

        last_line = checkpoint.line
        for row in read_rows(file, fmt, plan.plan):
            report.read += 1
            last_line = max(last_line, row.line)
            if row.line <= checkpoint.line:
                report.skipped += 1
                continue
            message = _prepare(row, plan, received, options.max_age, refuse)
            if message is not None:
                if received - _action_time(message) < CAMPAIGN_WINDOW:
                    report.recent += 1
                batch.append((row.line, message))
            if len(batch) >= options.batch_size:
                _send(
                    _screened(batch, privacy, report, error_log),
                    destination,
                    limiter,
                    report,
                    error_log,
                    options,
                )
                _advance(checkpoint, batch[-1][0], report, state, options)
                batch = []
                if progress:
                    progress(report)
            elif message is None and not batch:
                _advance(checkpoint, row.line, report, state, options)
        if batch:
            _send(
                _screened(batch, privacy, report, error_log),
                destination,
                limiter,
                report,
                error_log,
                options,
            )
        # Every line has been handled, refused ones after the last batch included.
        _advance(checkpoint, last_line, report, state, options)
        checkpoint.finished = report.captured == 0
        if not options.dry_run:
            _save(state, checkpoint)
    report.seconds = time.monotonic() - started
    if progress:
        progress(report)
    return report


def _prepare(
    row: Row,
    plan: CompiledPlan,
    received: datetime,
    max_age: timedelta,
    refuse: Callable[[int, str, str], None],
) -> dict[str, Any] | None:
    if row.data is None:
        refuse(row.line, row.error or "unreadable", "malformed")
        return None
    try:
        message = normalise(from_json(row.data), received)
    except MessageError as exc:
        refuse(row.line, f"{exc.path}: {exc.message}", exc.code)
        return None
    if message.timestamp_missing:
        refuse(
            row.line, "no timestamp: history needs the original action time", "missing_timestamp"
        )
        return None
    timestamp = message.timestamp or received
    if received - timestamp > max_age:
        refuse(
            row.line,
            f"action time {timestamp:%Y-%m-%d} is older than --max-age ({max_age.days} days)",
            "too_old",
        )
        return None
    result = check_message(plan, message, backfill=True)
    if result.verdict == "blocked" or result.message is None:
        blocking = next(v for v in result.violations if v.effect == "block")
        refuse(row.line, f"{blocking.path}: {blocking.message}", blocking.code)
        return None
    return to_json(result.message)


def _action_time(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(message["timestamp"]))


def _screened(
    batch: list[tuple[int, dict[str, Any]]],
    privacy: Privacy | None,
    report: BackfillReport,
    error_log: Any,
) -> list[tuple[int, dict[str, Any]]]:
    """The batch without the records of erased or suppressed people (counted and logged)."""
    if privacy is None:
        return batch
    marks: Sequence[MarkKind | None] = privacy.screen([message for _, message in batch])
    kept = []
    for (line, message), mark in zip(batch, marks, strict=True):
        if mark is None:
            kept.append((line, message))
            continue
        report.withheld[mark] = report.withheld.get(mark, 0) + 1
        error_log.write(
            json.dumps({"line": line, "code": mark, "reason": WITHHELD_REASONS[mark]}) + "\n"
        )
    return kept


def _send(
    batch: list[tuple[int, dict[str, Any]]],
    destination: Destination,
    limiter: TokenBucket,
    report: BackfillReport,
    error_log: Any,
    options: BackfillOptions,
) -> None:
    if options.dry_run:
        report.delivered += len(batch)
        return
    pending = list(batch)
    attempts = 0
    while pending:
        time.sleep(limiter.delay(len(pending)))
        outcomes = destination.deliver([m for _, m in pending])
        attempts += 1
        retry: list[tuple[int, dict[str, Any]]] = []
        wait = 0.0
        for (line, message), outcome in zip(pending, outcomes, strict=True):
            if outcome.kind == "delivered":
                report.delivered += 1
            elif outcome.kind == "captured":
                report.captured += 1
                if report.captured_from is None or line < report.captured_from:
                    report.captured_from = line
            else:
                decision = RETRY_POLICY.after(outcome, attempts)
                if decision.dead:
                    _failed(report, error_log, line, message, decision.reason)
                else:
                    retry.append((line, message))
                    wait = max(wait, decision.wait)
        pending = retry
        if pending:
            time.sleep(wait)


def _failed(
    report: BackfillReport, error_log: Any, line: int, message: dict[str, Any], reason: str | None
) -> None:
    report.failed += 1
    error_log.write(
        json.dumps(
            {
                "line": line,
                "messageId": message.get("messageId"),
                "code": "delivery",
                "reason": reason,
            }
        )
        + "\n"
    )


def _advance(
    checkpoint: Checkpoint, line: int, report: BackfillReport, path: Path, options: BackfillOptions
) -> None:
    if report.captured_from is not None:
        # Never past a captured line: it was not sent, so the next run must send it.
        line = min(line, report.captured_from - 1)
    checkpoint.line = max(checkpoint.line, line)
    checkpoint.delivered = report.delivered
    checkpoint.refused = report.refused
    checkpoint.failed = report.failed
    if not options.dry_run:
        _save(path, checkpoint)


class _Null:
    """A writable that drops everything (dry runs keep no error file)."""

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, text: str) -> int:
        return len(text)
