"""The audit as Markdown with tables, for the review meeting."""

from __future__ import annotations

from collections.abc import Sequence

from trackwell.monitor.audit import AuditReport

_PROPERTY_KINDS = {"always_empty": "always empty", "never_varies": "never varies"}


def render_markdown(report: AuditReport) -> str:
    """The whole report; every section says what to do with its rows."""
    lines = [
        f"# Tracking plan audit: {report.plan} (version {report.version})",
        "",
        f"Window: {report.since} to {report.until} (UTC), {report.days} days.",
        "",
    ]
    if report.clean:
        lines += [
            "Nothing to act on: every planned event arrives, is used, and is named right.",
            "",
        ]
    lines += _events(report)
    lines += _unplanned(report)
    lines += _deprecations(report)
    lines += _migrations(report)
    lines += _properties(report)
    if report.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in report.notes] + [""]
    return "\n".join(lines)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table; pipes in cells are escaped."""

    def cell(value: object) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*out, ""]


def _events(report: AuditReport) -> list[str]:
    lines: list[str] = []
    if report.no_volume:
        lines += [
            "## Planned events that never arrived",
            "",
            "An event a workflow uses and that never arrives is a broken workflow: fix the "
            "sender first. The others are candidates for deprecation.",
            "",
        ]
        lines += table(
            ["event", "stage", "used by"],
            [(e.name, e.stage, ", ".join(e.used_by) or "none") for e in report.no_volume],
        )
    if report.low_volume:
        lines += ["## Planned events with low volume", ""]
        lines += table(
            ["event", "received", "last seen", "used by"],
            [
                (e.name, e.received, e.last_seen, ", ".join(e.used_by) or "none")
                for e in report.low_volume
            ],
        )
    if report.unused:
        lines += [
            "## Planned events no workflow uses",
            "",
            "`used_by` is empty: name the workflows and segments that depend on them, or stop "
            "sending them to the messaging tool.",
            "",
        ]
        lines += table(["event", "received"], [(e.name, e.received) for e in report.unused])
    return lines


def _unplanned(report: AuditReport) -> list[str]:
    lines: list[str] = []
    if report.unplanned:
        lines += [
            "## Unplanned names still arriving",
            "",
            "Fix the sender, or add the name to the plan (as an alias when it is a near miss).",
            "",
        ]
        rows = [
            (u.name, u.count, u.first_seen, u.last_seen, u.probably or "", ", ".join(u.sources))
            for u in report.unplanned
        ]
        lines += table(["name", "events", "first seen", "last seen", "probably", "sources"], rows)
    if report.aliases:
        lines += [
            "## Old names still sent",
            "",
            "Renamed at the edge through `aliases`; update the senders before removing the alias.",
            "",
        ]
        lines += table(["now called", "events under an old name"], list(report.aliases.items()))
    return lines


def _migrations(report: AuditReport) -> list[str]:
    """Property renames and retired versions the senders have not finished moving off."""
    if not (report.old_property_names or report.retired_versions):
        return []
    lines = [
        "## Migrations still in progress",
        "",
        "Accepted through a property's `aliases` or a retired (`deprecated: true`) version;"
        " move the senders before removing the alias or the version (a breaking change).",
        "",
    ]
    retired, renamed = report.retired_versions, report.old_property_names
    names = [*retired, *(name for name in renamed if name not in retired)]
    rows = [(name, renamed.get(name, 0), retired.get(name, 0)) for name in names]
    lines += table(
        ["event", "properties under an old name", "messages matching a retired version"], rows
    )
    return lines


def _deprecations(report: AuditReport) -> list[str]:
    if not report.deprecations:
        return []
    rows = [(d.event, d.reason, d.replacement or "", d.received) for d in report.deprecations]
    return ["## Deprecation", "", *table(["event", "why", "replacement", "received"], rows)]


def _properties(report: AuditReport) -> list[str]:
    lines: list[str] = []
    if report.properties:
        lines += [
            f"## Properties that carry no information ({report.sample_size} sampled messages)",
            "",
            "Always empty: the sender does not fill it. Never varies: a constant or a default "
            "that hides the real value. Fix the sender or drop the property from the plan.",
            "",
        ]
        rows = [
            (p.event, p.property, _PROPERTY_KINDS[p.kind], p.samples, p.value or "")
            for p in report.properties
        ]
        lines += table(["event", "property", "finding", "samples", "value"], rows)
    if report.traits_never_set:
        lines += [
            "## Traits never set",
            "",
            "No identify in the sample set them: segments on them match nobody.",
            "",
        ]
        lines += table(["trait"], [(t,) for t in report.traits_never_set])
    return lines
