"""`trackwell why USER`: a person's history and why an event did not do what was expected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.delivery import parse_since
from trackwell.cli.monitor import JsonOpt, StoreOpt, settings_for
from trackwell.cli.options import PlanOpt
from trackwell.cli.output import escape, fail, print_json, stdout
from trackwell.cli.sources import resolve_plan
from trackwell.cli.stores import existing_store
from trackwell.core.time import now_ms, to_ms

if TYPE_CHECKING:
    from rich.table import Table

    from trackwell.monitor.why import WhyReport

_OK = frozenset(["ok", "journey_triggered"])


def why_command(
    person: Annotated[str, typer.Argument(help="A user id or any of their anonymous ids.")],
    event: Annotated[
        str | None, typer.Option("--event", help="The event that did not fire.")
    ] = None,
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow",
            help="A workflow from the plan's used_by (or a Customer.io campaign id): its events.",
        ),
    ] = None,
    within: Annotated[
        int,
        typer.Option(
            "--within",
            min=1,
            help="Minutes after delivery with no report before 'no journey triggered'.",
        ),
    ] = 30,
    since: Annotated[
        str | None, typer.Option("--since", help="Only messages received since: 2h, 7d, or a time.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Events shown.")] = 20,
    json_output: JsonOpt = False,
    plan_path: PlanOpt = None,
    store_url: StoreOpt = None,
) -> None:
    """Profile, merged history, last events with verdicts and deliveries, and a diagnosis."""
    from trackwell.monitor.why import resolve_workflow, why, why_document
    from trackwell.quality.compiled import compile_plan

    settings = settings_for(plan_path, store_url)
    try:
        since_ms = to_ms(parse_since(since)) if since else None
    except ValueError as exc:
        fail(str(exc))
    plan = compile_plan(resolve_plan(plan_path))
    try:
        chosen = resolve_workflow(plan, workflow, settings.workflows) if workflow else None
    except ValueError as exc:
        fail(str(exc))
    store = existing_store(store_url)
    try:
        report = why(
            store,
            plan,
            person,
            now_ms=now_ms(),
            event=event,
            workflow=chosen,
            since_ms=since_ms,
            destinations=settings.destinations,
            trigger_minutes=within,
        )
    finally:
        store.close()
    if json_output:
        print_json(why_document(report))
    else:
        _render(report, limit)


def _render(report: WhyReport, limit: int) -> None:
    from trackwell.monitor.timeline import profile_document
    from trackwell.monitor.why import REPORTING_DAYS

    profile = profile_document(report.timeline.profile)
    if profile is not None:
        stdout.print(
            f"[bold]{escape(profile['userId'])}[/]  first seen {profile['firstSeen']}, last seen {profile['lastSeen']}"
        )
        for key, value in sorted(profile["traits"].items()):
            stdout.print(
                f"  {escape(key)} = {escape(repr(value))}  [dim](set {profile['traitsSetAt'].get(key)})[/]"
            )
    else:
        stdout.print(f"[bold]{escape(report.person)}[/] (no profile: never identified)")
    if report.timeline.anonymous_ids:
        stdout.print(
            f"anonymous ids (merged history): {escape(', '.join(report.timeline.anonymous_ids))}"
        )
    stdout.print("")
    if report.event:
        title = f"Why '{report.event}'"
    elif report.workflow is not None:
        title = f"Why workflow '{report.workflow.name}'"
    else:
        title = "Diagnosis"
    stdout.print(f"[bold]{escape(title)}[/]")
    for diagnosis in report.diagnoses:
        mark = "[green]ok[/]" if diagnosis.code in _OK else "[red]![/]"
        stdout.print(f"  {mark} {escape(diagnosis.message)}")
    if not report.diagnoses:
        stdout.print("  Nothing wrong that trackwell can see.")
    if report.unreported:
        stdout.print(
            f"  [cyan]i[/] No Customer.io report has reached trackwell in {REPORTING_DAYS} days, "
            "so what Customer.io did with these events is unknown: point a Customer.io reporting "
            "webhook at the gateway's /webhooks/customerio (README: Customer.io reporting webhooks)."
        )
    if report.entries:
        stdout.print("")
        stdout.print(_events(report, limit))


def _events(report: WhyReport, limit: int) -> Table:
    from rich.table import Table

    from trackwell.monitor.why_outcomes import campaign_label

    table = Table(title=f"last {min(limit, len(report.entries))} messages", show_edge=False)
    for column in (
        "received",
        "action time",
        "type",
        "event / name",
        "verdict",
        "violations",
        "deliveries",
        "Customer.io did",
    ):
        table.add_column(column)
    for entry in report.entries[-limit:]:
        message = entry.message
        deliveries = "; ".join(
            f"{name}: {state['status']}"
            + (f" after {state['attempts']} attempt(s)" if state.get("attempts") else "")
            + (f" ({str(state['error'])[:60]})" if state.get("error") else "")
            for name, state in sorted(entry.deliveries.items())
        )
        reports = report.reports.get(str(message.get("messageId")), [])
        did = "; ".join(
            dict.fromkeys(f"{campaign_label(r)}: {r.object_type} {r.metric}" for r in reports)
        )
        table.add_row(
            str(message.get("receivedAt", ""))[:19],
            str(message.get("timestamp", ""))[:19],
            str(message.get("type", "")),
            escape(str(message.get("event") or message.get("name") or "")),
            entry.verdict,
            escape(", ".join(str(v.get("code", "")) for v in entry.violations)),
            escape(deliveries),
            escape(did),
        )
    return table
