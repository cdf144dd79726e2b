"""`trackwell backfill FILE --destination NAME`: history with its original action times."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.delivery import configured_destinations
from trackwell.cli.options import PlanOpt, options
from trackwell.cli.output import escape, fail, print_json, real_console, stderr, stdout
from trackwell.cli.sources import resolve_plan

if TYPE_CHECKING:
    from trackwell.pipeline.backfill import BackfillReport
    from trackwell.store import Store


def backfill_command(
    file: Annotated[Path, typer.Argument(help="History: JSON Lines or CSV.")],
    destination: Annotated[
        str, typer.Option("--destination", help="A destination of trackwell.toml.")
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: from the file name).")
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="At most N events per second.")
    ] = None,
    max_age: Annotated[
        int, typer.Option("--max-age", min=1, help="Refuse events older than this many days.")
    ] = 395,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count; send nothing.")
    ] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore an earlier run's checkpoint.")
    ] = False,
    plan_path: PlanOpt = None,
    store_url: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="The store whose privacy marks are checked (default: configured store).",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Send historical events to one destination: validated, rate-limited, resumable, idempotent."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from trackwell.io.backfill_files import count_rows
    from trackwell.pipeline.backfill import BackfillError, BackfillOptions, run_backfill
    from trackwell.quality.compiled import compile_plan
    from trackwell.store import StoreError

    kind = fmt or ("csv" if file.suffix.lower() == ".csv" else "jsonl")
    if kind not in ("jsonl", "csv"):
        fail(f"--format: unknown format {kind!r} (expected jsonl or csv)")
    if not file.is_file():
        fail(f"{file}: no such file")
    plan = compile_plan(resolve_plan(plan_path))
    chosen = configured_destinations(only=destination)
    if not chosen:
        fail(f"--destination: no destination {destination!r} in trackwell.toml")
    target = chosen[0]
    if target.kind == "customerio":
        stderr.print(
            "[yellow]note:[/] Customer.io starts campaigns only from events less than 72 hours old; "
            "backfilled history fills profiles and segments, not campaign triggers."
        )
    total = count_rows(file, kind)
    options = BackfillOptions(
        rate=rate, max_age=timedelta(days=max_age), dry_run=dry_run, restart=restart
    )
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[speed]} ev/s, {task.fields[errors]} errors"),
        TimeRemainingColumn(),
    )
    store = _privacy_store(store_url)
    try:
        with Progress(*columns, console=real_console(stderr), disable=json_output) as bar:
            task = bar.add_task(f"backfill -> {destination}", total=total, speed="0", errors=0)

            def update(report: BackfillReport) -> None:
                done = report.delivered + report.captured + report.refused + report.failed
                elapsed = max(bar.tasks[task].elapsed or 0.0, 1e-6)
                bar.update(
                    task,
                    completed=report.read,
                    speed=f"{done / elapsed:.0f}",
                    errors=report.refused + report.failed,
                )

            report = run_backfill(file, kind, plan, target, options, update, privacy=store)
    except (BackfillError, ValueError, StoreError) as exc:
        fail(str(exc))
    finally:
        target.close()
        if store is not None:
            store.close()
    _summary(report, json_output)
    if report.failed:
        raise typer.Exit(1)


def _privacy_store(url: str | None) -> Store | None:
    """The store whose erase and suppression marks each batch is screened against; None (and
    a warning) when there is no store yet, so there can be no marks to check."""
    from trackwell.io.config import ConfigError
    from trackwell.store import StoreError, open_store, sqlite_file

    try:
        resolved = url or options.settings().store
    except ConfigError as exc:
        fail(str(exc))
    path = sqlite_file(resolved)
    if path is not None and not Path(path).exists():
        stderr.print(
            f"[yellow]note:[/] no store at {escape(resolved)}: no privacy marks were checked"
            " (pass --store if people were erased or suppressed in another store)"
        )
        return None
    try:
        return open_store(resolved)
    except StoreError as exc:
        fail(str(exc))


def _summary(report: BackfillReport, json_output: bool) -> None:
    if json_output:
        print_json(
            {
                "read": report.read,
                "delivered": report.delivered,
                "captured": report.captured,
                "refused": report.refused,
                "failed": report.failed,
                "skipped": report.skipped,
                "recent": report.recent,
                "seconds": round(report.seconds, 3),
                "dry_run": report.dry_run,
                "reasons": report.reasons,
                "withheld": report.withheld,
                "privacy_checked": report.privacy_checked,
                "errors_file": report.errors_file,
            }
        )
        return
    verb = "would send" if report.dry_run else "delivered"
    stdout.print(
        f"{report.read} read, {report.delivered} {verb}, {report.refused} refused, {report.failed} failed, "
        f"{report.skipped} already done by an earlier run ({report.seconds:.1f}s)"
    )
    if report.captured:
        stdout.print(
            f"{report.captured} captured, not sent: the destination is in capture mode, so the "
            f"checkpoint stays before line {report.captured_from} and a run with credentials sends them"
        )
    for code, count in sorted(report.reasons.items()):
        stdout.print(f"  refused {code}: {count}")
    for mark, count in sorted(report.withheld.items()):
        stdout.print(f"  withheld, the person is {mark}: {count} (never sent)")
    if not report.privacy_checked:
        stdout.print("No privacy marks were checked: there is no store to check them in.")
    if report.refused or report.failed or report.withheld:
        stdout.print(f"Details: {report.errors_file}")
    if report.recent:
        stdout.print(
            f"{report.recent} event(s) are younger than 72 hours and may trigger Customer.io campaigns."
        )
