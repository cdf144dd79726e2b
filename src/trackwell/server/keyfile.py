"""Adding a source's key hash to trackwell.toml without disturbing the rest of the file."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomli_w

from trackwell.server.auth import BROWSER_TYPES

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class KeyFileError(Exception):
    """trackwell.toml cannot be read or written."""


def add_key_hash(
    path: Path, source: str, key_hash: str, *, browser: bool, origins: Sequence[str] = ()
) -> None:
    """Store a key hash under [sources.SOURCE]; a new source is appended as its own table.

    A new table is appended as text, so comments and layout elsewhere stay as they are. An
    existing table's `key_hashes` list is extended in place when it can be found on one line;
    otherwise the file is rewritten from its parsed form (comments are then lost). `origins` are
    added to the source's `allowed_origins`, with `anonymous_only` said explicitly, as a source
    with origins must: true for a browser key, else false (analytics.js names people).
    """
    if not _NAME.match(source):
        raise KeyFileError(f"source name {source!r}: use letters, digits, '-' and '_' (up to 64)")
    text = _read(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeyFileError(f"{path}: invalid TOML: {exc}") from None
    sources = data.setdefault("sources", {})
    table: dict[str, Any] | None = sources.get(source)
    if table is None:
        table = {"key_hashes": [key_hash]}
        _restrict(table, browser, origins)
        block = tomli_w.dumps({"sources": {source: table}})
        _write(
            path,
            text
            + ("\n" if text and not text.endswith("\n") else "")
            + ("\n" if text else "")
            + block,
        )
        return
    if (browser or origins) and table.get("key_hashes") and not _public(table):
        # Origins are per source: listing them would publish the source's existing server keys.
        raise KeyFileError(
            f"source '{source}' already has server keys; --browser and --origin make a key that"
            " web pages publish, so give it a source of its own (e.g. `trackwell keys add"
            f" {source}-web --origin ...`)"
        )
    table.setdefault("key_hashes", []).append(key_hash)
    _restrict(table, browser, origins)
    edited = _in_place(text, source, key_hash) if not (browser or origins) else None
    if edited is not None and tomllib.loads(edited) == data:
        _write(path, edited)
    else:
        _write(path, tomli_w.dumps(data))


def _public(table: dict[str, Any]) -> bool:
    """Whether a source's table makes its keys public (browser keys, or listed web origins)."""
    return bool(table.get("anonymous_only") or table.get("allowed_origins"))


def _restrict(table: dict[str, Any], browser: bool, origins: Sequence[str]) -> None:
    """A browser key's limits and a key's web origins, in the source's table."""
    if browser:
        table.update(types=list(BROWSER_TYPES), anonymous_only=True)
    if origins:
        listed = list(table.get("allowed_origins", []))
        table["allowed_origins"] = listed + [o for o in dict.fromkeys(origins) if o not in listed]
        table.setdefault("anonymous_only", False)


def _in_place(text: str, source: str, key_hash: str) -> str | None:
    """The text with the hash added to the table's `key_hashes = [...]`, or None."""
    header = re.search(rf"^\[sources\.\"?{re.escape(source)}\"?\]\s*$", text, re.MULTILINE)
    if header is None:
        return None
    following = re.search(r"^\[", text[header.end() :], re.MULTILINE)
    end = header.end() + following.start() if following else len(text)
    section = text[header.end() : end]
    found = re.search(r"^(key_hashes\s*=\s*\[)([^\]]*)\]", section, re.MULTILINE)
    if found is None:
        return None
    inner = found.group(2)
    if "\n" in inner:  # one hash per line, as tomli-w writes it
        body = inner.rstrip()
        if body and not body.endswith(","):
            body += ","
        inner = f'{body}\n    "{key_hash}",\n'
    else:
        body = inner.strip().rstrip(",")
        inner = f'{body}, "{key_hash}"' if body else f'"{key_hash}"'
    section = section[: found.start()] + found.group(1) + inner + "]" + section[found.end() :]
    return text[: header.end()] + section + text[end:]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot be read ({exc.strerror})") from None


def _write(path: Path, text: str) -> None:
    """Replace the file atomically, keeping its permissions."""
    folder = path.parent if str(path.parent) else Path()
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, temp = tempfile.mkstemp(prefix=".trackwell-", suffix=".toml", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp).chmod(mode)
        Path(temp).replace(path)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot be written ({exc.strerror})") from None
