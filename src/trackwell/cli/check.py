"""`trackwell check EVENTS`: check a file of events against the plan, as CI does."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.options import PlanOpt
from trackwell.cli.output import EXIT_FINDINGS, fail, print_json, stdout
from trackwell.cli.sources import resolve_plan

if TYPE_CHECKING:
    from trackwell.quality.report import InputReport


class FailOn(StrEnum):
    """How bad a message must be for `check` to exit 1."""

    blocked = "blocked"
    repaired = "repaired"
    warning = "warning"


EXAMPLES_PER_CODE = 3


def check_command(
    events: Annotated[
        str, typer.Argument(help="JSON Lines, a Segment batch JSON file, or - for stdin.")
    ],
    plan_path: PlanOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            "--fail-on",
            help="Exit 1 when any message is blocked (default), repaired or worse, "
            "or has any violation at all (warning).",
        ),
    ] = FailOn.blocked,
    backfill: Annotated[
        bool, typer.Option("--backfill", help="Allow action times older than 13 months.")
    ] = False,
) -> None:
    """Check events against the tracking plan; exit 1 when something is blocked."""
    from trackwell.io.eventfile import EventFileError, read_events
    from trackwell.quality.compiled import compile_plan
    from trackwell.quality.report import check_events

    plan = compile_plan(resolve_plan(plan_path))
    try:
        source = read_events(events)
    except EventFileError as exc:
        fail(str(exc))
    report = check_events(plan, source.events, backfill=backfill)
    report.notes.extend(source.notes)
    if json_output:
        print_json(report.to_dict())
    else:
        _print_report(report)
    if _fails(report, fail_on):
        raise typer.Exit(EXIT_FINDINGS)


def _fails(report: InputReport, level: FailOn) -> bool:
    if report.count("blocked"):
        return True
    if level is FailOn.repaired:
        return report.count("repaired") > 0
    if level is FailOn.warning:
        return any(m.violations for m in report.messages)
    return False


def _print_report(report: InputReport) -> None:
    summary = report.summary()
    stdout.print(
        f"{summary['messages']} messages: [green]{summary['accepted']} accepted[/], "
        f"[yellow]{summary['repaired']} repaired[/], [red]{summary['blocked']} blocked[/]"
    )
    for note in report.notes:
        stdout.print(f"[yellow]note:[/] {note}")
    for code, count in summary["by_code"].items():
        stdout.print(f"\n[bold]{code}[/] ({count})")
        shown = 0
        for entry in report.messages:
            for violation in entry.violations:
                if violation.code != code or shown >= EXAMPLES_PER_CODE:
                    continue
                shown += 1
                where = f"line {entry.line}" if entry.line else f"#{entry.index}"
                label = f" {entry.label}" if entry.label else ""
                path = f"{violation.path}: " if violation.path else ""
                stdout.print(
                    f"  {where}{label} [dim]({entry.verdict})[/] {path}{violation.message}",
                    markup=True,
                )
        if count > shown:
            stdout.print(f"  ... and {count - shown} more")
