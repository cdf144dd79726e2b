"""`trackwell plan ...`: lint, diff, export and import the tracking plan."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.gen import gen_command, refuse_stdout_directory, write_jsonschema
from trackwell.cli.options import STDOUT, PlanOpt
from trackwell.cli.output import EXIT_FINDINGS, escape, fail, print_json, stderr, stdout
from trackwell.cli.sources import GIT_PREFIX, lint_findings, plan_spec, resolve_plan

if TYPE_CHECKING:
    from trackwell.plan import Plan
    from trackwell.plan.diff import PlanDiff
    from trackwell.plan.jsonschema import ImportReport
    from trackwell.plan.lint import Finding

# The plan package is imported inside each command, so `trackwell --help` does not load it.
app = typer.Typer(
    help="Lint, diff, export and import the tracking plan.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
export_app = typer.Typer(
    help="Write the plan in another format.", no_args_is_help=True, rich_markup_mode=None
)
import_app = typer.Typer(
    help="Turn another tool's plan into tracking-plan YAML.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")

PlanArg = Annotated[
    str | None,
    typer.Argument(
        help="Plan file or git:REF:PATH, the same as --plan (default: TRACKWELL_PLAN, then"
        " trackwell.toml's plan, then tracking-plan.yaml).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for machines.")]


@app.command("lint")
def lint_command(
    plan_path: PlanArg = None,
    json_output: JsonOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    plan_option: PlanOpt = None,
) -> None:
    """Check names, structure, documentation and sensitive data; exit 1 on errors."""
    from trackwell.plan.lint import unsuppressed

    plan = resolve_plan(plan_spec(plan_path, plan_option))
    findings = lint_findings(plan)
    # Findings the plan accepts (lint.allow, with a reason) are shown but never fail, --strict
    # or not; every other warning fails under --strict.
    errors = len(unsuppressed(findings, "error"))
    warnings = len(unsuppressed(findings, "warning"))
    suppressed = sum(1 for f in findings if f.suppressed is not None)
    if json_output:
        print_json(
            {
                "plan": plan.source,
                "name": plan.name,
                "version": plan.version,
                "events": len(plan.events),
                "traits": len(plan.traits),
                "errors": errors,
                "warnings": warnings,
                "suppressed": suppressed,
                "findings": [f.to_dict() for f in findings],
            }
        )
    else:
        _print_findings(plan, findings, errors, warnings, suppressed)
    if errors or (strict and warnings):
        raise typer.Exit(EXIT_FINDINGS)


def _print_findings(
    plan: Plan, findings: list[Finding], errors: int, warnings: int, suppressed: int
) -> None:
    stdout.print(
        f"[bold]{plan.name}[/] v{plan.version} ({plan.source}): "
        f"{len(plan.events)} events, {len(plan.traits)} traits, "
        f"{len(plan.pages)} pages, {len(plan.screens)} screens"
    )
    for finding in findings:
        where = (
            f"{plan.source}:{finding.location.line}:{finding.location.column}"
            if finding.location
            else plan.source
        )
        colour = "red" if finding.severity == "error" else "yellow"
        if finding.suppressed is not None:
            stdout.print(
                f"{escape(where)}: [dim]suppressed {finding.severity}[/] [bold]{finding.code}[/] "
                f"{escape(finding.path)}: {escape(finding.message)} "
                f"[dim](accepted: {escape(finding.suppressed)})[/]",
                markup=True,
            )
            continue
        stdout.print(
            f"{where}: [{colour}]{finding.severity}[/] [bold]{finding.code}[/] "
            f"{finding.path}: {finding.message}",
            markup=True,
        )
    if not findings:
        stdout.print("[green]No findings: the plan is clean.[/]")
        return
    by_code = Counter(f.code for f in findings)
    summary = ", ".join(f"{code} {n}" for code, n in sorted(by_code.items()))
    accepted = f", {suppressed} suppressed" if suppressed else ""
    stdout.print(f"{errors} error(s), {warnings} warning(s){accepted} ({summary})")


DIFF_FORMATS = ("text", "json", "github")


@app.command("diff")
def diff_command(
    old: Annotated[str, typer.Argument(help="Old plan: a file or git:REF:PATH.")],
    new: Annotated[str, typer.Argument(help="New plan: a file or git:REF:PATH.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (same as --format json).")
    ] = False,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="text, json, or github (workflow commands: annotations on the changed lines).",
        ),
    ] = "text",
) -> None:
    """List changes as breaking or compatible; exit 1 on breaking ones without a version bump."""
    if output_format not in DIFF_FORMATS:
        fail(f"--format: expected one of {', '.join(DIFF_FORMATS)}, got {output_format!r}")
    if json_output and output_format not in ("text", "json"):
        fail(f"--json and --format {output_format} ask for two outputs; give one")
    from trackwell.plan.diff import diff_plans

    before, after = resolve_plan(old), resolve_plan(new)
    result = diff_plans(before, after)
    if json_output or output_format == "json":
        print_json({"old": old, "new": new, **result.to_dict()})
    elif output_format == "github":
        from trackwell.plan.diff_github import github_annotations

        for line in github_annotations(result, _annotated_file(new)):
            typer.echo(line)
    else:
        _print_diff(old, new, result)
    if not result.ok:
        raise typer.Exit(EXIT_FINDINGS)


def _annotated_file(new: str) -> str:
    """The plan file as the pull request knows it: the path given (PATH of git:REF:PATH)."""
    if new.startswith(GIT_PREFIX):
        return new[len(GIT_PREFIX) :].partition(":")[2]
    return new


def _print_diff(old: str, new: str, result: PlanDiff) -> None:
    stdout.print(f"{old} (v{result.old_version}) -> {new} (v{result.new_version})")
    if not result.changes:
        stdout.print("No changes.")
        return
    for change in result.changes:
        colour = "red" if change.kind == "breaking" else "green"
        impact = f"  [dim](used by: {', '.join(change.impact)})[/]" if change.impact else ""
        kind = f"[{colour}]{change.kind:<10}[/]"
        stdout.print(f"  {kind} {change.code:<24} {change.path}: {change.message}{impact}")
    breaking = len(result.breaking)
    stdout.print(f"{len(result.changes)} change(s), {breaking} breaking.")
    if not result.ok:
        stdout.print(
            f"[red]Breaking changes need a version bump: set version above {result.old_version}.[/]"
        )
    elif not result.version_bumped:
        stdout.print(
            "[yellow]The plan changed but its version did not; bump it on every change.[/]"
        )


@export_app.command("jsonschema")
def export_jsonschema(
    plan_path: PlanArg = None,
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--out", help="Directory to write (several files: not - for standard output)."
        ),
    ] = Path("schemas"),
    plan_option: PlanOpt = None,
) -> None:
    """One JSON Schema (draft 2020-12) per event and for the traits, plus a manifest."""
    refuse_stdout_directory(out)
    plan = resolve_plan(plan_spec(plan_path, plan_option))
    written = write_jsonschema(plan, out)
    stdout.print(f"Wrote {written} files to {out}/")


OutOpt = Annotated[
    Path | None,
    typer.Option("-o", "--out", help="Plan file to write (default, or -: standard output)."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing plan file.")]


@import_app.command("jsonschema")
def import_jsonschema(
    directory: Annotated[Path, typer.Argument(help="Directory of *.json schemas.")],
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Read JSON Schemas (a trackwell export or your own) back into a plan."""
    from trackwell.plan.jsonschema import SchemaImportError, import_directory

    try:
        plan, report = import_directory(directory)
    except SchemaImportError as exc:
        fail(str(exc))
    _write_imported(plan, report, out, force)


@import_app.command("segment")
def import_segment(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Segment export(s): a Config API export, or the Public API's Get Tracking "
            "Plan and List Rules responses (every page).",
        ),
    ],
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Turn a Segment Protocols tracking plan into a trackwell plan."""
    from trackwell.plan.jsonschema import SchemaImportError
    from trackwell.plan.segment import import_segment_documents

    try:
        plan, report = import_segment_documents([(f.name, _read_json(f)) for f in files])
    except SchemaImportError as exc:
        fail(str(exc))
    _write_imported(plan, report, out, force)


@import_app.command("rudderstack")
def import_rudderstack(
    path: Annotated[
        Path, typer.Argument(help="rudder-cli project: a directory of YAML files, or one file.")
    ],
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Turn a RudderStack Data Catalog project (rudder-cli YAML) into a trackwell plan."""
    from trackwell.plan.jsonschema import SchemaImportError
    from trackwell.plan.rudderstack import import_rudderstack as read_rudderstack

    try:
        plan, report = read_rudderstack(_read_yaml_project(path))
    except SchemaImportError as exc:
        fail(str(exc))
    _write_imported(plan, report, out, force)


@import_app.command("avo")
def import_avo(
    file: Annotated[Path, typer.Argument(help="Avo tracking plan export (JSON).")],
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Turn an Avo tracking plan export (JSON Schema per event) into a trackwell plan."""
    from trackwell.plan.avo import import_avo as read_avo
    from trackwell.plan.jsonschema import SchemaImportError

    try:
        plan, report = read_avo(_read_json(file))
    except SchemaImportError as exc:
        fail(str(exc))
    _write_imported(plan, report, out, force)


@import_app.command("amplitude-csv")
def import_amplitude_csv(
    files: Annotated[
        list[Path],
        typer.Argument(help="Amplitude Data CSV export(s): events, and user properties."),
    ],
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Turn Amplitude Data's tracking plan CSV exports into a trackwell plan."""
    from trackwell.plan.amplitude_csv import import_amplitude_csv as read_amplitude
    from trackwell.plan.jsonschema import SchemaImportError

    try:
        plan, report = read_amplitude([(file.name, _read_text(file)) for file in files])
    except SchemaImportError as exc:
        fail(str(exc))
    _write_imported(plan, report, out, force)


@import_app.command("mixpanel-csv")
def import_mixpanel_csv(
    files: Annotated[list[Path], typer.Argument(help="Mixpanel Lexicon CSV export(s).")],
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Turn a Mixpanel Lexicon CSV export into a trackwell plan."""
    from trackwell.plan.jsonschema import SchemaImportError
    from trackwell.plan.mixpanel_csv import import_mixpanel_csv as read_mixpanel

    try:
        plan, report = read_mixpanel([(file.name, _read_text(file)) for file in files])
    except SchemaImportError as exc:
        fail(str(exc))
    _write_imported(plan, report, out, force)


def _read_text(file: Path) -> str:
    """A source file's text; a missing or unreadable file ends the command."""
    try:
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        fail(f"{file}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot read ({exc})")


def _read_json(file: Path) -> object:
    """A source file's JSON document."""
    import json

    try:
        return json.loads(_read_text(file))
    except json.JSONDecodeError as exc:
        fail(f"{file}: not valid JSON ({exc})")


def _read_yaml_project(path: Path) -> list[tuple[str, object]]:
    """Every YAML document of a rudder-cli project (a directory, read recursively, or one
    file), labelled by file, and `#n` when a file holds several documents."""
    import yaml

    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        if not files:
            fail(f"{path}: no *.yaml files")
    else:
        files = [path]
    documents: list[tuple[str, object]] = []
    for file in files:
        label = str(file.relative_to(path)) if path.is_dir() else file.name
        try:
            found = [doc for doc in yaml.safe_load_all(_read_text(file)) if doc is not None]
        except yaml.YAMLError as exc:
            fail(f"{file}: not valid YAML ({exc})")
        for number, document in enumerate(found, start=1):
            documents.append((f"{label}#{number}" if len(found) > 1 else label, document))
    return documents


def _write_imported(plan: Plan, report: ImportReport, out: Path | None, force: bool) -> None:
    from trackwell.plan import PlanLoadError, parse_plan
    from trackwell.plan.dump import dump_plan

    text = dump_plan(plan)
    try:  # What we write must load: check it with the same loader every command uses.
        parse_plan(text, str(out or "<imported plan>"))
    except PlanLoadError as exc:
        fail(f"the imported plan would not load:\n{exc}")
    for note in report.notes:
        stderr.print(f"[yellow]not mapped:[/] {note}", markup=True)
    if out is None or str(out) == STDOUT:
        typer.echo(text, nl=False)
        return
    if out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror})")
    stderr.print(
        f"Wrote {out}: {len(plan.events)} events, {len(plan.traits)} traits; "
        f"{len(report.notes)} item(s) not mapped. Run `trackwell plan lint {out}` next."
    )


app.command("gen")(gen_command)
