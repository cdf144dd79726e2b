"""`trackwell keys add|list|revoke|rotate`: write keys for the gateway's sources, stored only as
hashes."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from trackwell.cli.extras import require_extra
from trackwell.cli.options import options
from trackwell.cli.output import fail, print_json, stderr, stdout
from trackwell.cli.stores import audit
from trackwell.core.tokens import HASH_PREFIX

app = typer.Typer(
    help="Write keys for the gateway's sources (stored hashed in trackwell.toml).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.callback()
def _keys() -> None:
    """Write keys for the gateway's sources (stored hashed in trackwell.toml)."""
    # Keys are the gateway's: hashing and the key file live in trackwell.server.
    require_extra("server", "trackwell keys")


def _config_path() -> Path:
    from trackwell.io.config import CONFIG_FILE

    return Path(options.config or os.environ.get("TRACKWELL_CONFIG") or CONFIG_FILE)


def key_id(key_hash: str) -> str:
    """A key as the audit log and `keys list` name it: the first 12 hex digits of its hash."""
    return key_hash[: len(HASH_PREFIX) + 12]


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> timedelta:
    """`90s`, `30m`, `24h`, `7d` as a timedelta; a clear error otherwise."""
    found = _DURATION.match(value.strip())
    if found is None:
        fail(f"--overlap: {value!r} is not a duration; write e.g. 90s, 30m, 24h or 7d")
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def _usage(kind: str, source: str, origins: list[str]) -> None:
    """How to use a new key (KEY; the key itself only on stdout), for its source's kind."""
    if kind == "web":
        shown = ", ".join(origins) or "the source's allowed_origins"
        text = (
            f"Key for analytics.js on {shown} (public; it may send identified"
            " calls). In AnalyticsBrowser.load's options:\n"
            f'  integrations: {{"Segment.io": {{apiHost: "GATEWAY_HOST/v1"}}}}, writeKey "KEY"'
        )
    elif kind == "browser":
        text = (
            "Browser key: anonymous page and track only. On your marketing pages:\n"
            '  <script src="https://GATEWAY/trackwell.js" data-write-key="KEY" async></script>'
        )
    else:
        text = (
            f"Segment clients: write key KEY · Customer.io clients: site_id {source!r},"
            " api_key = the key"
        )
    stderr.print(text, markup=False, highlight=False)


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
    from trackwell.io.config import ORIGIN_HELP, ConfigError, is_origin
    from trackwell.server.auth import hash_key, new_key
    from trackwell.server.keyfile import KeyFileError, add_key_hash, source_kind

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
    audit("key_added", source, {"key": key_id(hash_key(key)), "browser": browser})
    stderr.print(
        "Keep it now (the line on standard output); it cannot be shown again. Below, KEY"
        " stands for it.",
        highlight=False,
    )
    # The key goes to standard output once and nowhere else: stderr is what terminals,
    # CI logs and process supervisors keep.
    typer.echo(key)
    _usage(source_kind(path, source), source, origins)


@app.command("revoke")
def revoke_command(
    source: Annotated[str, typer.Argument(help="The source the key belongs to.")],
    key: Annotated[
        str,
        typer.Argument(
            help="The key, its hash, or a prefix of its hash (`keys list` shows them).",
            metavar="KEY_PREFIX_OR_HASH",
        ),
    ],
) -> None:
    """Remove one key of SOURCE from trackwell.toml; a gateway refuses it once restarted."""
    from trackwell.io.config import ConfigError
    from trackwell.server.keyfile import KeyFileError, revoke_key

    path = _config_path()
    try:
        removed = revoke_key(path, source, key)
        options.settings()
    except (KeyFileError, ConfigError) as exc:
        fail(str(exc))
    audit("key_revoked", source, {"key": key_id(removed)})
    stderr.print(
        f"Revoked {removed[:19]}... of [sources.{source}] in {path}; restart the gateway"
        " (or its workers) for it to take effect.",
        markup=False,
        highlight=False,
    )


@app.command("rotate")
def rotate_command(
    source: Annotated[str, typer.Argument(help="The source whose keys are replaced.")],
    overlap: Annotated[
        str | None,
        typer.Option(
            "--overlap",
            help="How long the old keys keep working (90s, 30m, 24h, 7d); without it they stop"
            " at once.",
        ),
    ] = None,
) -> None:
    """Make a new key for SOURCE (printed once) and retire its old keys, after --overlap."""
    from trackwell.io.config import ConfigError
    from trackwell.server.auth import hash_key, new_key
    from trackwell.server.keyfile import KeyFileError, rotate_keys, source_kind

    until = datetime.now(UTC).replace(microsecond=0) + parse_duration(overlap) if overlap else None
    path = _config_path()
    key = new_key()
    try:
        retired = rotate_keys(path, source, hash_key(key), until)
        options.settings()
    except (KeyFileError, ConfigError) as exc:
        fail(str(exc))
    when = f"until {until.isoformat()} (key_expires)" if until else "no longer (removed)"
    detail: dict[str, Any] = {"key": key_id(hash_key(key)), "retired": retired}
    if until is not None:
        detail["old_keys_until"] = until.isoformat()
    audit("key_rotated", source, detail)
    stderr.print(
        f"Rotated [sources.{source}] in {path}: {retired} old key(s) work {when}; restart the"
        " gateway for the new key to be accepted. Keep the new key now (the line on standard"
        " output); it cannot be shown again. Below, KEY stands for it.",
        markup=False,
        highlight=False,
    )
    typer.echo(key)
    _usage(source_kind(path, source), source, [])


@app.command("list")
def list_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Sources, how many keys each has (hash prefixes, and when rotated-out ones stop) and what
    they may send."""
    from rich.table import Table

    from trackwell.io.config import ConfigError
    from trackwell.server.auth import KeyRing

    try:
        settings = options.settings()
    except ConfigError as exc:
        fail(str(exc))
    ring = KeyRing.from_config(settings.sources)
    rows: list[dict[str, Any]] = []
    for name, table in sorted(settings.sources.items()):
        hashes = list(table.get("key_hashes", []))
        expires = table.get("key_expires", {})
        rows.append(
            {
                "source": name,
                "keys": len(hashes),
                "hashes": [h[: len(HASH_PREFIX) + 12] for h in hashes],
                # a rotated-out key's end (keys rotate --overlap), by hash prefix
                "expires": {h[: len(HASH_PREFIX) + 12]: expires[h].isoformat() for h in expires},
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
        keys = " ".join(
            f"{h} (until {row['expires'][h]})" if h in row["expires"] else h for h in row["hashes"]
        )
        shown.add_row(row["source"], str(row["keys"]), keys, row["may_send"], origins)
    stdout.print(shown)
