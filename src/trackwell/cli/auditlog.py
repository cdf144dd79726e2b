"""`trackwell audit-log`: the store's log of admin actions (privacy requests, replays, keys)."""

from __future__ import annotations

from typing import Annotated

import typer

from trackwell.cli.output import escape, print_json, stdout
from trackwell.cli.stores import existing_store


def audit_log_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many entries.")] = 50,
    action: Annotated[
        str | None,
        typer.Option(
            "--action", help="Only this action (erase, suppress, replay, key_added, ...)."
        ),
    ] = None,
    store_url: Annotated[
        str | None, typer.Option("--store", help="Store URL (default: configured store).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Admin actions, newest first: who did what to what, and when (never a payload value)."""
    from trackwell.core.time import iso_seconds

    store = existing_store(store_url)
    try:
        entries = store.audit_entries(limit=max(1, min(limit, 10_000)), action=action)
    finally:
        store.close()
    if json_output:
        from trackwell.pipeline.audit import entry_document

        print_json({"entries": [entry_document(entry) for entry in entries]})
        return
    if not entries:
        stdout.print("No admin actions recorded" + (f" for {action!r}." if action else "."))
        return
    from rich.table import Table

    table = Table(show_edge=False)
    for column in ("at", "actor", "action", "target", "detail"):
        table.add_column(column)
    for entry in entries:
        detail = ", ".join(f"{key}={value}" for key, value in sorted(entry.detail.items()))
        table.add_row(
            iso_seconds(entry.at_ms),
            escape(entry.actor),
            entry.action,
            escape(entry.target),
            escape(detail),
        )
    stdout.print(table)
