"""A plan diff as GitHub Actions workflow commands, which a pull request shows as annotations
on the changed lines of the plan file."""

from __future__ import annotations

from trackwell.plan.diff import Change, PlanDiff

# Escaping as GitHub's own toolkit does it (actions/toolkit, packages/core/src/command.ts,
# `escapeData` and `escapeProperty`); the syntax is documented at
# https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands
# (`::error file={name},line={line},col={col},title={title}::{message}`).
_DATA = (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"))
_PROPERTY = (*_DATA, (":", "%3A"), (",", "%2C"))


def escape_data(text: str) -> str:
    """A command's message: `%` first, so the escapes themselves are not escaped again."""
    for raw, escaped in _DATA:
        text = text.replace(raw, escaped)
    return text


def escape_property(text: str) -> str:
    """A command's property value, where `:` and `,` would end the value too."""
    for raw, escaped in _PROPERTY:
        text = text.replace(raw, escaped)
    return text


def level(change: Change, diff: PlanDiff) -> str:
    """`error` for a breaking change that fails the check (no version bump); `warning` for a
    breaking change the bump accepts, or a compatible one that touches workflows; `notice` for
    the rest."""
    if change.kind == "breaking":
        return "warning" if diff.version_bumped else "error"
    return "warning" if change.impact else "notice"


def annotation(change: Change, diff: PlanDiff, file: str) -> str:
    """One workflow command for one change, at the changed line of `file` (the plan's first
    line for what the new plan no longer has)."""
    where = change.location
    line, column = (where.line, where.column) if where is not None else (1, 1)
    title = f"plan diff: {change.kind} {change.code}"
    message = f"{change.path}: {change.message}"
    if change.impact:
        message += f" (used by: {', '.join(change.impact)})"
    properties = ",".join(
        f"{key}={escape_property(value)}"
        for key, value in (
            ("file", file),
            ("line", str(line)),
            ("col", str(column)),
            ("title", title),
        )
    )
    return f"::{level(change, diff)} {properties}::{escape_data(message)}"


def github_annotations(diff: PlanDiff, file: str) -> list[str]:
    """Every change as a workflow command, then a summary one when the check fails."""
    lines = [annotation(change, diff, file) for change in diff.changes]
    if not diff.ok:
        summary = (
            f"{len(diff.breaking)} breaking change(s) without a version bump: "
            f"set version above {diff.old_version}"
        )
        title = escape_property("plan diff: version bump needed")
        lines.append(
            f"::error file={escape_property(file)},line=1,col=1,title={title}::"
            f"{escape_data(summary)}"
        )
    return lines
