"""`trackwell store check` and `trackwell store retention`: check a store's integrity without
changing it, and apply the retention once, on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.options import cli_actor, options
from trackwell.cli.output import EXIT_FINDINGS, fail, print_json, stderr

if TYPE_CHECKING:
    from trackwell.io.config import RetentionSettings
    from trackwell.store import RetentionReport, StoreCheck

app = typer.Typer(
    help="Check the store or apply its retention (SQLite file or PostgreSQL) on demand.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

# A check expected to take longer than this says so on stderr before it starts.
ANNOUNCE_AFTER_S = 2.0


@app.callback()
def _store() -> None:
    """Check the store or apply its retention (SQLite file or PostgreSQL) on demand."""


@app.command("check")
def check_command(
    store_url: Annotated[
        str | None, typer.Option("--store", help="Store URL (default: configured store).")
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="SQLite: PRAGMA integrity_check (also compares every index with its table;"
            " 3-4x slower) instead of quick_check.",
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Check the store read-only; exit 0 when sound, 1 with the problems found, 2 if none.

    SQLite: PRAGMA quick_check (integrity_check with --full), and foreign_key_check when the
    schema declares foreign keys, on the file opened read-only; run it before an upgrade or
    from cron, even while a gateway writes. PostgreSQL: the connection, the migrations, and
    today's and tomorrow's day tables.
    """
    from trackwell.io.config import ConfigError
    from trackwell.store import StoreError, check_store, sqlite_file

    try:
        url = store_url or options.settings().store
    except ConfigError as exc:
        fail(str(exc))
    path = sqlite_file(url)
    if path is not None:
        _announce(path, full=full)
    try:
        found = check_store(url, full=full)
    except StoreError as exc:
        fail(str(exc))
    if json_output:
        print_json(_document(found))
    else:
        _render(found)
    if not found.ok:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("retention")
def retention_command(
    store_url: Annotated[
        str | None, typer.Option("--store", help="Store URL (default: configured store).")
    ] = None,
    log_days: Annotated[
        int | None,
        typer.Option(
            "--log-days", min=1, help="Days the log is kept (default: [retention] log_days)."
        ),
    ] = None,
    blocked_days: Annotated[
        int | None,
        typer.Option(
            "--blocked-days",
            min=1,
            help="Days blocked messages are kept (default: [retention] blocked_days).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be removed; remove nothing.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Remove log and blocked messages older than the retention, once; print what was removed.

    Days come from the flags, else from [retention] in trackwell.toml (or
    TRACKWELL_RETENTION_LOG_DAYS / TRACKWELL_RETENTION_BLOCKED_DAYS); a cut-off is the start of
    the UTC day that many days back. PostgreSQL drops whole day partitions of the log; SQLite
    deletes in ranges of the key, a bounded transaction at a time, so a running gateway keeps
    writing. `trackwell serve` runs the same pass at start and every hour.
    """
    from trackwell.core.time import now_ms
    from trackwell.io.config import ConfigError
    from trackwell.pipeline.audit import record
    from trackwell.store import StoreError, check_retention, open_store

    try:
        settings = options.settings(store=store_url)
    except ConfigError as exc:
        fail(str(exc))
    days = _retention_days(settings.retention, log_days, blocked_days)
    if days[0] is None and days[1] is None:
        fail(
            "no retention configured: set [retention] log_days / blocked_days in trackwell.toml"
            " (or TRACKWELL_RETENTION_LOG_DAYS / TRACKWELL_RETENTION_BLOCKED_DAYS), or pass"
            " --log-days / --blocked-days"
        )
    try:
        check_retention(*days)
    except ValueError as exc:
        origin = "--log-days" if log_days is not None else settings.retention.log_days_origin
        fail(f"{origin}: {exc}")
    try:
        store = open_store(settings.store)
    except StoreError as exc:
        fail(str(exc))
    try:
        report = store.apply_retention(
            log_days=days[0], blocked_days=days[1], now_ms=now_ms(), dry_run=dry_run
        )
        if not dry_run:
            # An operator's pass is an admin action: who ran it and what went, as counts.
            record(
                store,
                cli_actor(),
                "retention",
                "store",
                {
                    "log_days": days[0],
                    "blocked_days": days[1],
                    "log_rows": report.log_rows,
                    "blocked_rows": report.blocked_rows,
                    "partitions": len(report.partitions_dropped),
                },
            )
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    if json_output:
        print_json(_retention_document(report, days))
    else:
        _render_retention(report)


def _retention_days(
    configured: RetentionSettings, log_days: int | None, blocked_days: int | None
) -> tuple[int | None, int | None]:
    """(log days, blocked days): a flag wins over the configuration."""
    return (
        log_days if log_days is not None else configured.log_days,
        blocked_days if blocked_days is not None else configured.blocked_days,
    )


def _retention_document(
    report: RetentionReport, days: tuple[int | None, int | None]
) -> dict[str, object]:
    """A pass as one JSON document: per table its days, cut-off and counts (null: kept for ever)."""
    from trackwell.core.time import iso_seconds

    log = None
    if report.log_cutoff_ms is not None:
        log = {
            "days": days[0],
            "cutoff": iso_seconds(report.log_cutoff_ms),
            "cutoff_ms": report.log_cutoff_ms,
            "rows": report.log_rows,
            "partitions": list(report.partitions_dropped),
            "delivery_rows": report.delivery_rows,
        }
    blocked = None
    if report.blocked_cutoff_ms is not None:
        blocked = {
            "days": days[1],
            "cutoff": iso_seconds(report.blocked_cutoff_ms),
            "cutoff_ms": report.blocked_cutoff_ms,
            "rows": report.blocked_rows,
        }
    return {"dry_run": report.dry_run, "log": log, "blocked": blocked}


def _render_retention(report: RetentionReport) -> None:
    """One line per table: what was (or would be) removed, and the cut-off."""
    from trackwell.core.time import iso_seconds

    done = "would be removed (dry run)" if report.dry_run else "removed"
    if report.log_cutoff_ms is None:
        typer.echo("log: kept for ever (no log retention)")
    else:
        line = (
            f"log: {report.log_rows:,} message(s) received before"
            f" {iso_seconds(report.log_cutoff_ms)} {done}"
        )
        if report.partitions_dropped:
            line += f", {len(report.partitions_dropped)} day partition(s):"
            line += " " + ", ".join(report.partitions_dropped)
        typer.echo(line)
        typer.echo(f"  with {report.delivery_rows:,} queue and delivery history row(s)")
    if report.blocked_cutoff_ms is None:
        typer.echo("blocked: kept for ever (no blocked retention)")
    else:
        typer.echo(
            f"blocked: {report.blocked_rows:,} message(s) received before"
            f" {iso_seconds(report.blocked_cutoff_ms)} {done}"
        )


def _announce(path: str, *, full: bool) -> None:
    """Say on stderr that a large file's check will take a while (before it starts)."""
    from pathlib import Path

    from trackwell.store.sqlite.integrity import estimated_seconds

    try:
        size = Path(path).stat().st_size
    except OSError:
        return  # the check itself says what is wrong with the path
    seconds = estimated_seconds(size, full=full)
    if seconds > ANNOUNCE_AFTER_S:
        pragma = "integrity_check" if full else "quick_check"
        stderr.print(
            f"Checking {path} ({_size(size)}) with {pragma}: about {seconds:.0f} s"
            " (longer if the file is not in the page cache)...",
            markup=False,
            highlight=False,
        )


def _document(found: StoreCheck) -> dict[str, object]:
    """The check as one JSON document."""
    return {
        "ok": found.ok,
        "kind": found.kind,
        "target": found.target,
        "size_bytes": found.size_bytes,
        "checks": list(found.checks),
        "seconds": round(found.seconds, 3),
        "problems": list(found.problems),
    }


def _render(found: StoreCheck) -> None:
    """One line when sound; the problems and what to do otherwise."""
    size = f", {_size(found.size_bytes)}" if found.size_bytes is not None else ""
    what = f"{', '.join(found.checks)}{size}, {found.seconds:.2f} s"
    if found.ok:
        typer.echo(f"ok: {found.target} ({what})")
        return
    typer.echo(f"{found.target}: {len(found.problems)} problem(s) found ({what}):")
    for problem in found.problems:
        typer.echo(f"  {problem}")
    if found.kind == "sqlite":
        from trackwell.store.sqlite.connection import damaged

        typer.echo(damaged(found.target, "the problems listed above"))


def _size(size_bytes: int) -> str:
    """A file size for people: 812 KB, 3.4 MB, 1.2 GB."""
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.0f} KB"
    if size_bytes < 1024**3:
        return f"{size_bytes / 1024**2:.1f} MB"
    return f"{size_bytes / 1024**3:.1f} GB"
