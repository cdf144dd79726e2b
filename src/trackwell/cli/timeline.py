"""`trackwell timeline PERSON`: a person's merged history, like Customer.io's Activity Timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.output import print_json, stdout
from trackwell.cli.stores import existing_store

if TYPE_CHECKING:
    from trackwell.store import Timeline

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: configured store).")
]


def timeline_command(
    person: Annotated[str, typer.Argument(help="A user id or any of their anonymous ids.")],
    store_url: StoreOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many messages.")] = 200,
) -> None:
    """Show a person's profile, anonymous ids and every message in action-time order."""
    store = existing_store(store_url)
    try:
        timeline = store.timeline(person, limit=limit)
    finally:
        store.close()
    if json_output:
        from trackwell.monitor.timeline import timeline_document

        print_json(timeline_document(timeline))
        return
    _render(person, timeline)


def _render(person: str, timeline: Timeline) -> None:
    from rich.table import Table

    from trackwell.monitor.timeline import iso_from_ms as _iso

    profile = timeline.profile
    if profile is None and not timeline.entries:
        stdout.print(f"Nobody known as {person!r}.")
        return
    if profile is not None:
        stdout.print(
            f"[bold]{profile.user_id}[/]  first seen {_iso(profile.first_seen_ms)}, last seen {_iso(profile.last_seen_ms)}"
        )
        for key, value in sorted(profile.traits.items()):
            stdout.print(f"  {key} = {value!r}  [dim](set {_iso(profile.trait_times.get(key))})[/]")
    else:
        stdout.print(f"[bold]{person}[/] (anonymous, not identified yet)")
    if timeline.anonymous_ids:
        stdout.print(f"anonymous ids: {', '.join(timeline.anonymous_ids)}")
    for merge in timeline.merges:
        stdout.print(
            f"  merge {_iso(merge.at_ms)} {merge.kind} {merge.anonymous_id} -> {merge.user_id}: {merge.outcome} {merge.detail}"
        )
    table = Table(show_edge=False, pad_edge=False)
    for column in ("action time", "type", "event / name", "verdict", "violations", "deliveries"):
        table.add_column(column)
    for entry in timeline.entries:
        message = entry.message
        deliveries = ", ".join(
            f"{name}: {state['status']}" for name, state in sorted(entry.deliveries.items())
        )
        table.add_row(
            str(message.get("timestamp", ""))[:19],
            str(message.get("type", "")),
            str(message.get("event") or message.get("name") or ""),
            entry.verdict,
            ", ".join(v.get("code", "") for v in entry.violations),
            deliveries,
        )
    stdout.print(table)
