"""`trackwell keys add|list`: write keys for the gateway's sources, stored only as hashes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from trackwell.cli.options import options
from trackwell.cli.output import fail, print_json, stderr, stdout
from trackwell.config import CONFIG_FILE, ORIGIN_HELP, ConfigError, is_origin

app = typer.Typer(
    help="Write keys for the gateway's sources (stored hashed in trackwell.toml).",
    no_args_is_help=True,
)


def _config_path() -> Path:
    return Path(options.config or os.environ.get("TRACKWELL_CONFIG") or CONFIG_FILE)


@app.command("add")
def add_command(
    source: Annotated[str, typer.Argument(help="The source the key is for (backend, web, ...).")],
    browser: Annotated[
        bool,
        typer.Option("--browser", help="A public browser key: anonymous page and track only."),
    ] = False,
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            help="A web page origin (https://www.example.com) that may send with this key;"
            " repeat for several, '*' for any. Without --browser: a key for analytics.js on"
            " those pages, which may send identified calls.",
        ),
    ] = None,
) -> None:
    """Make a new key for SOURCE: printed once, only its hash is stored in trackwell.toml."""
    from trackwell.server.auth import hash_key, new_key
    from trackwell.server.keyfile import KeyFileError, add_key_hash

    origins = [o.lower() for o in origin or []]
    for value in origins:
        if not is_origin(value):
            fail(f"--origin: {ORIGIN_HELP % (value,)}")
    path = _config_path()
    key = new_key()
    try:
        add_key_hash(path, source, hash_key(key), browser=browser, origins=origins)
        options.settings()  # the file must still load
    except (KeyFileError, ConfigError) as exc:
        fail(str(exc))
    stderr.print(f"Added a key to [sources.{source}] in {path} (only its hash is stored).")
    stderr.print(
        "Keep it now (the line on standard output); it cannot be shown again. Below, KEY"
        " stands for it.",
        highlight=False,
    )
    # The key goes to standard output once and nowhere else: stderr is what terminals,
    # CI logs and process supervisors keep.
    typer.echo(key)
    if origins and not browser:
        stderr.print(
            f"Key for analytics.js on {', '.join(origins)} (public; it may send identified"
            " calls). In AnalyticsBrowser.load's options:\n"
            f'  integrations: {{"Segment.io": {{apiHost: "GATEWAY_HOST/v1"}}}}, writeKey "KEY"',
            markup=False,
            highlight=False,
        )
    elif browser:
        stderr.print(
            "Browser key: anonymous page and track only. On your marketing pages:\n"
            '  <script src="https://GATEWAY/trackwell.js" data-write-key="KEY" async></script>',
            markup=False,
            highlight=False,
        )
    else:
        stderr.print(
            f"Segment clients: write key KEY · Customer.io clients: site_id {source!r},"
            " api_key = the key",
            markup=False,
            highlight=False,
        )


@app.command("list")
def list_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Sources, how many keys each has (hash prefixes) and what they may send."""
    from trackwell.server.auth import KeyRing

    try:
        settings = options.settings()
    except ConfigError as exc:
        fail(str(exc))
    ring = KeyRing.from_config(settings.sources)
    rows: list[dict[str, Any]] = []
    for name, table in sorted(settings.sources.items()):
        hashes = list(table.get("key_hashes", []))
        rows.append(
            {
                "source": name,
                "keys": len(hashes),
                "hashes": [h[: len("sha256:") + 12] for h in hashes],
                "may_send": ring.sources[name].describe(),
                "allowed_origins": sorted(ring.sources[name].allowed_origins),
            }
        )
    if json_output:
        print_json({"sources": rows})
        return
    if not rows:
        stdout.print("No sources yet: `trackwell keys add backend` makes one.")
        return
    shown = Table(show_edge=False)
    for column in ("source", "keys", "key hashes", "may send", "web origins"):
        shown.add_column(column)
    for row in rows:
        origins = ", ".join(row["allowed_origins"]) or "none (servers only)"
        shown.add_row(
            row["source"], str(row["keys"]), " ".join(row["hashes"]), row["may_send"], origins
        )
    stdout.print(shown)
