"""`trackwell timeline PERSON`: a person's merged history, like Customer.io's Activity Timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackwell.cli.output import print_json, stdout
from trackwell.cli.stores import existing_store
from trackwell.core.time import iso_seconds

if TYPE_CHECKING:
    from trackwell.store import Profile, Timeline

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: configured store).")
]


def timeline_command(
    person: Annotated[str, typer.Argument(help="A user id or any of their anonymous ids.")],
    store_url: StoreOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many messages.")] = 200,
) -> None:
    """Show a person's profile, anonymous ids and every message in action-time order."""
    store = existing_store(store_url)
    try:
        timeline = store.timeline(person, limit=limit)
    finally:
        store.close()
    if json_output:
        print_json(timeline_document(timeline))
        return
    _render(person, timeline)


def profile_document(profile: Profile | None) -> dict[str, Any] | None:
    """The JSON form of a profile."""
    if profile is None:
        return None
    return {
        "userId": profile.user_id,
        "traits": profile.traits,
        "traitsSetAt": {k: _iso(v) for k, v in profile.trait_times.items()},
        "anonymousIds": list(profile.anonymous_ids),
        "firstSeen": _iso(profile.first_seen_ms),
        "lastSeen": _iso(profile.last_seen_ms),
    }


def timeline_document(timeline: Timeline) -> dict[str, Any]:
    """The JSON form `trackwell timeline --json` prints."""
    events = []
    for entry in timeline.entries:
        message = entry.message
        item: dict[str, Any] = {"messageId": message.get("messageId"), "type": message.get("type")}
        if message.get("type") == "track":
            item["event"] = message.get("event")
        else:
            item["name"] = message.get("name")
        item.update(
            {
                "timestamp": message.get("timestamp"),
                "receivedAt": message.get("receivedAt"),
                "verdict": entry.verdict,
                "violations": entry.violations,
                "deliveries": entry.deliveries,
            }
        )
        events.append(item)
    return {
        "profile": profile_document(timeline.profile),
        "anonymousIds": list(timeline.anonymous_ids),
        "merges": [
            {
                "at": _iso(m.at_ms),
                "kind": m.kind,
                "anonymousId": m.anonymous_id,
                "userId": m.user_id,
                "messageId": m.message_id,
                "outcome": m.outcome,
                "detail": m.detail,
            }
            for m in timeline.merges
        ],
        "events": events,
    }


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return iso_seconds(ms)


def _render(person: str, timeline: Timeline) -> None:
    from rich.table import Table

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
