"""`trackwell audit`: the quarterly review of the plan against what actually arrives."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from trackwell.cli.monitor import JsonOpt, StoreOpt
from trackwell.cli.options import PlanOpt
from trackwell.cli.output import fail, is_terminal, print_json, stdout
from trackwell.cli.sources import resolve_plan
from trackwell.cli.stores import existing_store
from trackwell.core.time import now_ms


def audit_command(
    days: Annotated[int, typer.Option("--days", min=1, max=400, help="Days to look back.")] = 90,
    low: Annotated[
        int, typer.Option("--low", min=1, help="Fewer events than this is low volume.")
    ] = 10,
    sample: Annotated[
        str | None,
        typer.Option(
            "--sample", help="Recent messages (JSON Lines) to check properties and traits."
        ),
    ] = None,
    json_output: JsonOpt = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print Markdown (for a document).")
    ] = False,
    plan_path: PlanOpt = None,
    store_url: StoreOpt = None,
) -> None:
    """Unused, unsent, unplanned and deprecated events, and properties that carry nothing."""
    from rich.markdown import Markdown

    from trackwell.io.eventfile import EventFileError, read_events
    from trackwell.monitor.audit import audit
    from trackwell.monitor.audit_markdown import render_markdown
    from trackwell.monitor.context import DAY_MS
    from trackwell.quality.compiled import compile_plan

    plan = compile_plan(resolve_plan(plan_path))
    messages: list[Any] | None = None
    if sample is not None:
        try:
            source = read_events(sample)
        except EventFileError as exc:
            fail(str(exc))
        messages = [e.data for e in source.events if isinstance(e.data, dict)]
    store = existing_store(store_url)
    try:
        today = now_ms() // DAY_MS
        report = audit(store, plan, today=today, days=days, low=low, sample=messages)
    finally:
        store.close()
    if json_output:
        print_json(report.to_dict())
    elif markdown or not is_terminal(stdout):
        # Piped: the Markdown itself, plain lines (rich would centre headings across the width).
        typer.echo(render_markdown(report))
    else:
        stdout.print(Markdown(render_markdown(report)))
