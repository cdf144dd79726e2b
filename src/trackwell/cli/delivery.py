"""`trackwell deliveries`, `trackwell replay` and `trackwell route`: the delivery queues."""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.options import PlanOpt, cli_actor, options
from trackwell.cli.output import fail, print_json, stderr, stdout
from trackwell.cli.stores import existing_store
from trackwell.core.time import now_ms, to_ms

if TYPE_CHECKING:
    from trackwell.destinations.base import Destination

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: configured store).")
]
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2h`, `7d`, `30m`, or any ISO-8601 / Unix time, as an aware UTC datetime."""
    from trackwell.core.messages import MessageError, parse_time

    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    try:
        return parse_time(text, "--since")
    except MessageError as exc:
        raise ValueError(f"--since: {exc.message} (or a duration like 2h, 7d)") from None


def configured_destinations(only: str | None = None, *, sending: bool = True) -> list[Destination]:
    """The destinations of the config file's [destinations.NAME] tables (or just `only`);
    exits with every problem, one line each, when one cannot be built. `sending=False`: for a
    process that only registers the queues, so credentials are not needed there."""
    from trackwell.destinations.registry import from_settings
    from trackwell.io.config import ConfigError

    try:
        settings = options.settings()
    except ConfigError as exc:
        fail(str(exc))
    built: list[Destination] = []
    problems: list[str] = []
    for name, table in settings.destinations.items():
        if only is not None and name != only:
            continue
        try:
            built.append(from_settings(name, table, os.environ, sending=sending))
        except ValueError as exc:
            # Every destination's problems at once, one line each: fix them all in one go.
            problems.extend(f"destinations.{name}: {line}" for line in str(exc).splitlines())
    if problems:
        for destination in built:
            destination.close()
        fail("\n".join(problems))
    return built


def deliveries_command(
    store_url: StoreOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Per destination: pending, in flight, delivered, captured, no consent, held, retrying, dead, oldest pending, last error."""
    from rich.table import Table

    store = existing_store(store_url)
    try:
        stats = store.delivery_stats(now_ms())
    finally:
        store.close()
    if json_output:
        from trackwell.monitor.queues import queue_document

        print_json({"destinations": [queue_document(s) for s in stats]})
        return
    if not stats:
        stdout.print(
            "No destinations yet: configure [destinations.NAME] in trackwell.toml and run `trackwell route`."
        )
        return
    table = Table(show_edge=False)
    for column in (
        "destination",
        "pending",
        "in flight",
        "delivered",
        "captured",
        "no consent",
        "held",
        "retry",
        "waiting",
        "dead",
        "oldest pending",
        "last error",
    ):
        table.add_column(column)
    for s in stats:
        oldest = "-" if s.oldest_pending_ms is None else f"{s.oldest_pending_ms / 1000:.0f}s"
        table.add_row(
            s.destination,
            str(s.pending),
            str(s.in_flight),
            str(s.delivered),
            f"[yellow]{s.captured}[/]" if s.captured else "0",
            str(s.no_consent),
            f"[yellow]{s.held}[/]" if s.held else "0",
            str(s.retry),
            str(s.waiting),
            f"[red]{s.dead}[/]" if s.dead else "0",
            oldest,
            (s.last_error or "")[:60],
        )
    stdout.print(table)


def replay_command(
    destination: Annotated[
        str, typer.Option("--destination", help="The destination to re-send to.")
    ],
    since: Annotated[
        str | None, typer.Option("--since", help="Received since: 2h, 7d, or a time.")
    ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Only dead letters.")] = False,
    captured: Annotated[
        bool,
        typer.Option("--captured", help="Only messages captured in capture mode (never sent)."),
    ] = False,
    held: Annotated[
        bool,
        typer.Option("--held", help="Only messages held for consent (decided again when sent)."),
    ] = False,
    message_id: Annotated[str | None, typer.Option("--message-id", help="One message.")] = None,
    store_url: StoreOpt = None,
) -> None:
    """Schedule stored messages for re-delivery; the router sends them (ids keep it idempotent)."""
    from trackwell.store import StoreError

    if not dead and not captured and not held and since is None and message_id is None:
        fail("say what to replay: --dead, --captured, --held, --since TIME and/or --message-id ID")
    try:
        since_ms = to_ms(parse_since(since)) if since else None
    except ValueError as exc:
        fail(str(exc))
    store = existing_store(store_url)
    try:
        count = store.requeue(
            destination,
            dead_only=dead,
            captured_only=captured,
            held_only=held,
            since_ms=since_ms,
            message_id=message_id,
            now_ms=now_ms(),
        )
    except StoreError as exc:
        store.close()
        fail(str(exc))
    try:
        # Counts and the selection only: a replay re-sends people's data, so it is an admin
        # action on record, but the audit log never holds a payload value. The replay is done
        # by now: an entry the store refuses is said, and does not fail the command.
        store.append_audit(
            cli_actor(),
            "replay",
            destination,
            {
                "scheduled": count,
                "dead_only": dead,
                "captured_only": captured,
                "since_ms": since_ms,
                "one_message": message_id is not None,
            },
            now_ms=now_ms(),
        )
    except StoreError as exc:
        stderr.print(f"Not in the audit log: {exc}", markup=False, highlight=False)
    finally:
        store.close()
    stdout.print(
        f"Scheduled {count} message(s) for {destination}; `trackwell route` (or serve) sends them."
    )


def route_command(
    store_url: StoreOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then exit.")] = False,
    plan_path: PlanOpt = None,
) -> None:
    """Run the router for the configured destinations until stopped (SIGTERM or Ctrl-C)."""
    from trackwell.cli.sources import resolve_plan
    from trackwell.core.consent import ConsentConfigError
    from trackwell.io.config import ConfigError
    from trackwell.pipeline.router import Router
    from trackwell.store import StoreError, open_store

    destinations = configured_destinations()
    if not destinations:
        fail("no destinations configured: add [destinations.NAME] tables to trackwell.toml")
    try:
        store = open_store(store_url or options.settings().store)
    except (StoreError, ConfigError) as exc:
        fail(str(exc))
    consent = None
    if any(d.consent for d in destinations):
        consent = resolve_plan(plan_path).policy.consent  # the plan says what consent means
    try:
        router = Router(store, destinations, consent=consent)
    except ConsentConfigError as exc:
        store.close()
        fail(str(exc))
    captured = {s.destination: s.captured for s in store.delivery_stats(now_ms())}
    for d in destinations:
        mode = " in capture mode: requests are recorded, not sent (outcome captured)"
        stderr.print(f"routing to {d.name} ({d.kind}){mode if d.capture else ''}")
        if not d.capture and captured.get(d.name):
            # Recorded while it had no credentials: never sent, and not sent now unless asked.
            stderr.print(
                f"  {captured[d.name]} message(s) captured earlier were never sent to {d.name}: "
                f"`trackwell replay --destination {d.name} --captured` sends them"
            )
    try:
        if once:
            total = sum(router.drain(name) for name in router.destinations)
            stdout.print(f"Handled {total} message(s).")
            return
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        router.start()
        while not stopping:
            time.sleep(0.2)
    finally:
        router.close()
        store.close()
