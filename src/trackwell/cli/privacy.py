"""`trackwell privacy erase|suppress|unsuppress|status|list`: privacy requests from the shell.

A request is carried out in the store at once (an erase removes the person and leaves a
tombstone; a suppression marks them) and then propagated to every configured destination: in
the foreground, printing each destination's receipt, or with `--no-wait` by a running gateway or
`trackwell route`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from trackwell.cli.options import cli_actor, options
from trackwell.cli.output import EXIT_FINDINGS, escape, fail, print_json, stderr, stdout
from trackwell.cli.stores import existing_store

if TYPE_CHECKING:
    from trackwell.core.privacy import PrivacyRequest, RequestKind
    from trackwell.destinations.base import Destination
    from trackwell.store import Store

app = typer.Typer(
    help="Erase or suppress a person everywhere; see each request's per-destination receipts.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Person = Annotated[str, typer.Argument(help="A user id, an anonymous id or an email.")]
StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: configured store).")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
NoWait = Annotated[
    bool,
    typer.Option(
        "--no-wait",
        help="Do it in the store and leave the destinations to a running gateway or"
        " `trackwell route`.",
    ),
]
Wait = Annotated[
    float,
    typer.Option(
        "--wait",
        help="Wait at most this many seconds for the destinations; what is still being retried"
        " then is left to a running gateway or `trackwell route`.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
# How long the foreground waits by default: a few retries of a tool that is briefly down.
DEFAULT_WAIT_SECONDS = 120.0

# What each kind does, as the confirmation prompt says it.
_PROMPTS = {
    "erase": "Erase {person!r}: delete everything trackwell holds of them, for good, refuse"
    " their messages from now on, and ask {tools} to delete them?",
    "suppress": "Suppress {person!r}: keep their profile, but take and deliver nothing new for"
    " them, and ask {tools} to suppress them?",
    "unsuppress": "Unsuppress {person!r}: take and deliver their messages again, and ask {tools}"
    " to do the same?",
}


@app.callback()
def _privacy() -> None:
    """Erase or suppress a person everywhere; see each request's per-destination receipts."""


@app.command("erase")
def erase_command(
    person: Person,
    yes: Yes = False,
    no_wait: NoWait = False,
    wait: Wait = DEFAULT_WAIT_SECONDS,
    store_url: StoreOpt = None,
    json_output: Json = False,
) -> None:
    """Delete a person everywhere: the store (with a tombstone) and every destination."""
    _request(
        "erase", person, yes=yes, no_wait=no_wait, wait=wait, store_url=store_url, json=json_output
    )


@app.command("suppress")
def suppress_command(
    person: Person,
    yes: Yes = False,
    no_wait: NoWait = False,
    wait: Wait = DEFAULT_WAIT_SECONDS,
    store_url: StoreOpt = None,
    json_output: Json = False,
) -> None:
    """Keep a person's profile but take and deliver nothing new for them."""
    _request(
        "suppress",
        person,
        yes=yes,
        no_wait=no_wait,
        wait=wait,
        store_url=store_url,
        json=json_output,
    )


@app.command("unsuppress")
def unsuppress_command(
    person: Person,
    yes: Yes = False,
    no_wait: NoWait = False,
    wait: Wait = DEFAULT_WAIT_SECONDS,
    store_url: StoreOpt = None,
    json_output: Json = False,
) -> None:
    """Lift a suppression: the person's new messages are taken and delivered again."""
    _request(
        "unsuppress",
        person,
        yes=yes,
        no_wait=no_wait,
        wait=wait,
        store_url=store_url,
        json=json_output,
    )


@app.command("status")
def status_command(
    request_id: Annotated[str, typer.Argument(help="A request id (prv_...).")],
    store_url: StoreOpt = None,
    json_output: Json = False,
) -> None:
    """One request: its overall status and each destination's receipt; exit 1 if it failed."""
    from trackwell.pipeline.privacy import PrivacyService

    store = existing_store(store_url)
    try:
        request = PrivacyService(store, ()).status(request_id)
    finally:
        store.close()
    if request is None:
        fail(f"no privacy request {request_id!r}")
    _show(request, json_output)
    if request.status == "failed":
        raise typer.Exit(EXIT_FINDINGS)


@app.command("list")
def list_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many requests.")] = 50,
    store_url: StoreOpt = None,
    json_output: Json = False,
) -> None:
    """The newest privacy requests with their overall status."""
    from trackwell.core.time import iso_seconds
    from trackwell.pipeline.privacy import PrivacyService, request_document

    store = existing_store(store_url)
    try:
        requests = PrivacyService(store, ()).requests(limit)
    finally:
        store.close()
    if json_output:
        print_json({"requests": [request_document(r) for r in requests]})
        return
    if not requests:
        stdout.print("No privacy requests yet.")
        return
    from rich.table import Table

    table = Table(show_edge=False)
    for column in ("request", "kind", "status", "created", "actor", "destinations"):
        table.add_column(column)
    for request in requests:
        settled = sum(r.status != "pending" for r in request.receipts)
        table.add_row(
            request.id,
            request.kind,
            _status_text(request.status),
            iso_seconds(request.created_ms),
            escape(request.actor),
            f"{settled}/{len(request.receipts)} settled",
        )
    stdout.print(table)


def _request(
    kind: RequestKind,
    person: str,
    *,
    yes: bool,
    no_wait: bool,
    wait: float,
    store_url: str | None,
    json: bool,
) -> None:
    """Make one request, then propagate it in the foreground unless `no_wait`."""
    from trackwell.io.config import ConfigError
    from trackwell.pipeline.privacy import PrivacyError, PrivacyService, check_person
    from trackwell.sdk.client import write_leftover_spills
    from trackwell.store import StoreError

    try:
        check_person(person)
        names = list(options.settings().destinations)
    except (PrivacyError, ConfigError) as exc:
        fail(str(exc))
    # The tools are built (credentials checked) before anything is done: an erase cannot be
    # taken back, so a configuration problem must stop it, not its propagation.
    destinations = [] if no_wait else _destinations()
    store = existing_store(store_url)
    try:
        tools = ", ".join(names) if names else "no destination (none configured)"
        if not yes and not typer.confirm(
            _PROMPTS[kind].format(person=person, tools=tools), err=True
        ):
            stderr.print("Nothing done.")
            raise typer.Exit(EXIT_FINDINGS)
        try:
            service = PrivacyService(store, names, after_erase=lambda: write_leftover_spills(store))
            request = service.request(kind, person, actor=cli_actor())
        except (PrivacyError, StoreError) as exc:
            fail(str(exc))
        stderr.print(_done_in_store(request), highlight=False)
        if no_wait or not destinations:
            if request.receipts:
                stderr.print(
                    "The destinations are left to a running gateway or `trackwell route`;"
                    f" `trackwell privacy status {request.id}` follows them."
                )
        else:
            request = _propagate(store, destinations, request, wait)
    finally:
        for destination in destinations:
            destination.close()
        store.close()
    _show(request, json)
    if request.status == "failed":
        raise typer.Exit(EXIT_FINDINGS)


def _destinations() -> list[Destination]:
    """The configured destinations, built to send (exits naming every missing credential)."""
    from trackwell.cli.delivery import configured_destinations

    return configured_destinations()


def _propagate(
    store: Store, destinations: list[Destination], request: PrivacyRequest, wait: float
) -> PrivacyRequest:
    """Carry the request to every destination in the foreground, one progress line on stderr,
    retried as the router retries; after `wait` seconds (or Ctrl-C) what is still pending is
    left to a router, never given up on here."""
    import time

    from trackwell.pipeline.privacy import PrivacyWorker
    from trackwell.store import StoreError

    worker = PrivacyWorker(store, destinations)
    deadline = time.monotonic() + max(wait, 0.0)
    interactive = stderr.is_terminal
    shown: list[str] = []

    def progress(current: PrivacyRequest) -> None:
        settled = sum(r.status != "pending" for r in current.receipts)
        line = f"propagating {current.id}: {settled}/{len(current.receipts)} destinations settled"
        if interactive:
            stderr.print(line, end="\r", highlight=False)
        elif line not in shown:  # a log keeps one line per change, not one per poll
            shown.append(line)
            stderr.print(line, highlight=False)

    try:
        found = worker.propagate(
            request.id, progress=progress, stop=lambda: time.monotonic() >= deadline
        )
    except (KeyboardInterrupt, StoreError) as exc:
        why = (
            "Stopped waiting" if isinstance(exc, KeyboardInterrupt) else f"The store failed ({exc})"
        )
        stderr.print(
            f"\n{why}; what is pending is carried on by a running gateway or `trackwell route`"
            f" (`trackwell privacy status {request.id}`).",
            markup=False,
            highlight=False,
        )
        try:
            found = store.privacy_request(request.id)
        except StoreError:
            found = None
    if interactive:
        stderr.print()
    if found is not None and found.status == "pending":
        stderr.print(
            f"Still being retried after {wait:g} s; a running gateway or `trackwell route` carries"
            f" it on (`trackwell privacy status {request.id}`).",
            markup=False,
            highlight=False,
        )
    return found or request


def _done_in_store(request: PrivacyRequest) -> str:
    """One line on what the store did: rows erased per table, or the suppression."""
    if request.kind == "erase":
        rows = ", ".join(f"{table}: {count}" for table, count in sorted(request.erased.items()))
        return (
            f"{request.id}: erased from the store ({rows or 'nothing was stored'});"
            f" {request.identifiers} identifier(s) tombstoned"
        )
    verb = "suppressed" if request.kind == "suppress" else "unsuppressed"
    return f"{request.id}: {verb} in the store ({request.identifiers} identifier(s))"


def _show(request: PrivacyRequest, json_output: bool) -> None:
    """Print a request and its receipts, as text or one JSON document."""
    from trackwell.core.time import iso_seconds
    from trackwell.pipeline.privacy import request_document

    if json_output:
        print_json(request_document(request))
        return
    stdout.print(
        f"{request.id} {request.kind} by {escape(request.actor)} at"
        f" {iso_seconds(request.created_ms)}: {_status_text(request.status)}"
    )
    if not request.receipts:
        stdout.print("  no destination is configured: done in the store only")
    for receipt in request.receipts:
        detail = f" — {escape(receipt.detail)}" if receipt.detail else ""
        stdout.print(
            f"  {receipt.destination}: {_status_text(receipt.status)}"
            f" ({receipt.attempts} attempt(s)){detail}"
        )


def _status_text(status: str) -> str:
    """A status coloured for the terminal: done green, failed red, pending yellow."""
    colour = {"done": "green", "failed": "red", "pending": "yellow"}.get(status)
    return f"[{colour}]{status}[/]" if colour else status
