"""Where a command's plan comes from: a file, or `git:REF:PATH` for a past version."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, cast

from trackwell.cli.options import options
from trackwell.cli.output import fail

if TYPE_CHECKING:
    from trackwell.plan import Plan
    from trackwell.plan.lint import Finding

GIT_PREFIX = "git:"


class SourceError(Exception):
    """A plan source that cannot be read."""


def read_plan(spec: str | Path) -> Plan:
    """Load a plan from a path or `git:REF:PATH` (PATH relative to the current directory)."""
    # The plan package (PyYAML, rapidfuzz) is imported when a plan is read, not with the CLI.
    from trackwell.plan import load_plan, parse_plan

    text = str(spec)
    if not text.startswith(GIT_PREFIX):
        return load_plan(spec)
    ref, sep, path = text[len(GIT_PREFIX) :].partition(":")
    if not sep or not ref or not path:
        raise SourceError(f"{text}: expected git:REF:PATH, for example git:main:tracking-plan.yaml")
    target = path if path.startswith("/") else f"./{path}"
    try:
        result = subprocess.run(
            ["git", "show", f"{ref}:{target}"], capture_output=True, check=False, timeout=30
        )
    except FileNotFoundError:
        raise SourceError(f"{text}: git is not installed") from None
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SourceError(f"{text}: {reason[-1] if reason else 'git show failed'}")
    return parse_plan(result.stdout, text)


def load_source(spec: str | Path) -> Plan:
    """`read_plan`, turning every failure into a SourceError with a readable message."""
    from trackwell.plan import PlanLoadError

    try:
        return read_plan(spec)
    except PlanLoadError as exc:
        raise SourceError(str(exc)) from None


def plan_spec(positional: str | None, option: str | None) -> str | None:
    """The plan a command names, as a positional argument or with `--plan` (or neither: None);
    exit 2 when both are given and differ."""
    if positional is not None and option is not None and positional != option:
        fail(f"two plans given: {positional} and --plan {option}; give one")
    return positional if positional is not None else option


def resolve_plan(path: str | None) -> Plan:
    """Load the plan a command names, or the configured one; exit 2 with a clear error."""
    from trackwell.io.config import ConfigError

    try:
        spec = path if path is not None else str(options.settings().plan)
        return load_source(spec)
    except (SourceError, ConfigError) as exc:
        fail(str(exc))


def lint_findings(plan: Plan) -> list[Finding]:
    """The plan's lint findings at the severities trackwell.toml sets (`[lint.severity]`)."""
    from trackwell.io.config import ConfigError
    from trackwell.plan.lint import Level, lint_plan

    try:
        levels = cast(dict[str, Level], options.settings().lint_levels)
    except ConfigError as exc:
        fail(str(exc))
    return lint_plan(plan, levels)
