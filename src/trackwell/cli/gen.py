"""`trackwell plan gen TARGET`: write code and docs generated from the plan, or check them in CI."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.options import STDOUT, PlanOpt, options
from trackwell.cli.output import EXIT_FINDINGS, escape, fail, stderr, stdout
from trackwell.cli.sources import (
    GIT_PREFIX,
    SourceError,
    lint_findings,
    load_source,
    plan_spec,
    resolve_plan,
)

if TYPE_CHECKING:
    from trackwell.plan import Plan

# The generator of each file target, by name: codegen is imported when a command runs.
FILE_TARGETS = ("python", "typescript", "markdown")
TARGETS = (*FILE_TARGETS, "jsonschema")


def _generator(target: str) -> Callable[[Plan], str]:
    """The codegen function that writes one file target."""
    from trackwell import codegen

    generators: dict[str, Callable[[Plan], str]] = {
        "python": codegen.generate_python,
        "typescript": codegen.generate_typescript,
        "markdown": codegen.generate_markdown,
    }
    return generators[target]


def write_jsonschema(plan: Plan, out: Path) -> int:
    """Write the JSON Schema export to a directory, removing schemas of events no longer planned;
    the number of files written."""
    from trackwell.plan.jsonschema import MANIFEST, dumps, export_plan

    files = export_plan(plan)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if (out / MANIFEST).exists():
            for stale in out.glob("*.schema.json"):
                if stale.name not in files:
                    stale.unlink()
        for name, document in files.items():
            (out / name).write_text(dumps(document), encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror})")
    return len(files)


def refuse_stdout_directory(out: Path) -> None:
    """Exit 2 when `-o -` is given for a target that writes a directory of files."""
    if str(out) == STDOUT:
        fail("jsonschema writes a directory of files: give -o a directory, not - (standard output)")


def gen_command(
    target: Annotated[
        str,
        typer.Argument(help="python, typescript, markdown or jsonschema.", show_default=False),
    ],
    plan_path: Annotated[
        str | None,
        typer.Argument(
            help="Plan file or git:REF:PATH, the same as --plan (default: TRACKWELL_PLAN, then"
            " trackwell.toml's plan, then tracking-plan.yaml).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="File to write, - for standard output (for jsonschema, a directory).",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 with a diff when the output is out of date."
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="REF", help="markdown: add a change log since a git ref."),
    ] = None,
    plan_option: PlanOpt = None,
    allow_lint_errors: Annotated[
        bool,
        typer.Option(
            "--allow-lint-errors", help="Generate even when `trackwell plan lint` finds errors."
        ),
    ] = False,
) -> None:
    """Generate typed helpers (Python, TypeScript), the Markdown plan or JSON Schemas."""
    from trackwell.codegen import generate_markdown
    from trackwell.plan.diff import diff_plans
    from trackwell.plan.jsonschema import dumps, export_plan

    if target not in TARGETS:
        fail(f"unknown target {escape(repr(target))} (expected one of {', '.join(TARGETS)})")
    if out is None:
        kind = "directory" if target == "jsonschema" else "file"
        fail(f"-o/--out is required: the {kind} to write")
    if since is not None and target != "markdown":
        fail("--since adds a change log to the markdown target only")
    if target == "jsonschema":
        refuse_stdout_directory(out)
    elif check and str(out) == STDOUT:
        fail("--check compares a file with the plan: give -o the file, not -")
    plan_path = plan_spec(plan_path, plan_option)
    plan = resolve_plan(plan_path)
    if not allow_lint_errors:
        _refuse_lint_errors(plan)
    what = f"{plan.name} v{plan.version}"
    if target == "jsonschema":
        if check:
            expected = {name: dumps(document) for name, document in export_plan(plan).items()}
            _check_directory(out, expected, target, what)
        else:
            written = write_jsonschema(plan, out)
            stdout.print(f"Wrote {written} files to {out}/ from {what}.", markup=False)
        return
    if since is not None:
        text = generate_markdown(plan, diff_plans(_old_plan(since, plan_path), plan), since)
    else:
        text = _generator(target)(plan)
    if check:
        _check_file(out, text, target, what)
    elif str(out) == STDOUT:
        typer.echo(text, nl=False)
    else:
        _write(out, text, what)


def _refuse_lint_errors(plan: Plan) -> None:
    """Exit 1 naming each lint error: code generated from a plan lint rejects would spread its
    mistakes (a near-duplicate event, a misspelt stage) into every caller."""
    from trackwell.plan.lint import unsuppressed

    errors = unsuppressed(lint_findings(plan), "error")
    if not errors:
        return
    for finding in errors:
        where = f"{plan.source}:{finding.location.line}" if finding.location else plan.source
        stderr.print(
            f"{where}: error {finding.code} {finding.path}: {finding.message}",
            markup=False,
            highlight=False,
        )
    stderr.print(
        f"[bold red]error:[/] {len(errors)} lint error(s) in {escape(plan.source)}; fix them"
        " (or accept them under lint.allow with a reason), or pass --allow-lint-errors.",
        markup=True,
        highlight=False,
    )
    raise typer.Exit(EXIT_FINDINGS)


def _old_plan(ref: str, plan_path: str | None) -> Plan:
    """The plan as it was at a git ref, from the same file as the current one."""
    from trackwell.io.config import ConfigError

    try:
        spec = plan_path if plan_path is not None else str(options.settings().plan)
    except ConfigError as exc:
        fail(str(exc))
    if spec.startswith(GIT_PREFIX):
        spec = spec[len(GIT_PREFIX) :].partition(":")[2]
    # git show takes paths relative to the working directory, not absolute ones.
    path = os.path.relpath(spec) if Path(spec).is_absolute() else spec
    try:
        return load_source(f"{GIT_PREFIX}{ref}:{path}")
    except SourceError as exc:
        fail(str(exc))


def _write(out: Path, text: str, what: str) -> None:
    data = text.encode("utf-8")
    try:
        if out.is_file() and out.read_bytes() == data:
            stdout.print(f"{out} is up to date with {what}.", markup=False)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        fail(f"{escape(str(out))}: cannot write ({exc.strerror})")
    stdout.print(f"Wrote {out} from {what}.", markup=False)


def _check_file(out: Path, text: str, target: str, what: str) -> None:
    diff = _diff(out, text)
    if diff:
        typer.echo(diff, nl=False)
        _out_of_date(f"{out} is out of date with {what}", target, out)
    stdout.print(f"{out} is up to date with {what}.", markup=False)


def _check_directory(out: Path, expected: dict[str, str], target: str, what: str) -> None:
    from trackwell.plan.jsonschema import MANIFEST

    diffs = [_diff(out / name, text) for name, text in expected.items()]
    if (out / MANIFEST).is_file():
        # The writer deletes schemas of events that left the plan; their presence is drift.
        stale = sorted(p for p in out.glob("*.schema.json") if p.name not in expected)
        diffs += [_diff(path, "") for path in stale]
    if any(diffs):
        typer.echo("".join(diffs), nl=False)
        _out_of_date(f"{out}/ is out of date with {what}", target, out)
    stdout.print(f"{out}/ is up to date with {what}.", markup=False)


def _diff(path: Path, expected: str) -> str:
    """A unified diff from the file on disk to what the plan generates ('' when equal)."""
    try:
        current = path.read_bytes().decode("utf-8", "replace") if path.exists() else ""
    except OSError as exc:
        fail(f"{escape(str(path))}: cannot read ({exc.strerror})")
    # Compare line by line, so a checkout with Windows line endings is not drift.
    before, after = current.splitlines(keepends=False), expected.splitlines(keepends=False)
    if before == after:
        return ""
    lines = difflib.unified_diff(
        before, after, f"{path} (on disk)", f"{path} (from the plan)", lineterm=""
    )
    return "".join(f"{line}\n" for line in lines)


def _out_of_date(message: str, target: str, out: Path) -> None:
    stderr.print(
        f"[bold red]error:[/] {escape(message)}; run "
        f"`trackwell plan gen {target} ... -o {escape(str(out))}`.",
        markup=True,
        highlight=False,
    )
    raise typer.Exit(EXIT_FINDINGS)
