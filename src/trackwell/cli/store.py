"""`trackwell store check`: check a store's integrity on demand, without changing it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.options import options
from trackwell.cli.output import EXIT_FINDINGS, fail, print_json, stderr

if TYPE_CHECKING:
    from trackwell.store import StoreCheck

app = typer.Typer(
    help="Check the store (SQLite file or PostgreSQL) on demand.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

# A check expected to take longer than this says so on stderr before it starts.
ANNOUNCE_AFTER_S = 2.0


@app.callback()
def _store() -> None:
    """Check the store (SQLite file or PostgreSQL) on demand."""


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
