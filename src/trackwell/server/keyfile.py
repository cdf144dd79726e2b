"""Adding a source's key hash to trackwell.toml without disturbing the rest of the file."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from trackwell.core.tokens import HASH_PREFIX, hash_token
from trackwell.server.auth import BROWSER_TYPES, KEY_PREFIX

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A hash prefix given to `keys revoke` must have this many hex digits, so it is no guess.
MIN_HASH_PREFIX = 8
_KINDS = {
    "browser": "browser (--browser: anonymous page and track only)",
    "web": "analytics.js (--origin without --browser: identified calls from listed pages)",
    "server": "server (no --browser, no --origin)",
}


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
    wanted = "browser" if browser else "web" if origins else "server"
    if table.get("key_hashes") and _kind(table) != wanted:
        # What a key may send is the source's, so one source holds one kind of key: a browser
        # key added to a server source would publish the server keys' powers, and a server key
        # added to a browser source would be as limited as a browser key.
        raise KeyFileError(
            f"source '{source}' holds {_kind(table)} keys; this would be a {_KINDS[wanted]} key."
            " Keys of different kinds need sources of their own (e.g. `trackwell keys add"
            f" {source}-{wanted} ...`); nothing was changed"
        )
    table.setdefault("key_hashes", []).append(key_hash)
    _restrict(table, browser, origins)
    edited = _in_place(text, source, key_hash) if not (browser or origins) else None
    if edited is not None and tomllib.loads(edited) == data:
        _write(path, edited)
    else:
        _write(path, tomli_w.dumps(data))


def _kind(table: dict[str, Any]) -> str:
    """The kind of a source's keys: browser (anonymous only), web (listed origins) or server."""
    if table.get("anonymous_only"):
        return "browser"
    return "web" if table.get("allowed_origins") else "server"


def source_kind(path: Path, source: str) -> str:
    """`browser`, `web` or `server`: what `source`'s keys are (for the usage line printed)."""
    return _kind(_table(_load(path), path, source))


def revoke_key(path: Path, source: str, reference: str) -> str:
    """Remove one key of `source`, named by the key itself, its hash or a hash prefix of at
    least MIN_HASH_PREFIX hex digits (as `keys list` shows); the removed hash."""
    data = _load(path)
    table = _table(data, path, source)
    hashes: list[str] = list(table.get("key_hashes", []))
    if reference.startswith(KEY_PREFIX):
        matches = [h for h in hashes if h == hash_token(reference)]
    else:
        digits = reference.removeprefix(HASH_PREFIX).lower()
        if len(digits) < MIN_HASH_PREFIX or not re.fullmatch(r"[0-9a-f]+", digits):
            raise KeyFileError(
                f"{reference!r}: give the key, or its hash or at least {MIN_HASH_PREFIX} hex"
                " digits of it (`trackwell keys list` shows them)"
            )
        matches = [h for h in hashes if h[len(HASH_PREFIX) :].startswith(digits)]
    if len(matches) != 1:
        found = "no key" if not matches else f"{len(matches)} keys"
        raise KeyFileError(
            f"{found} of source '{source}' match {reference[:20]!r}; nothing was changed"
            " (`trackwell keys list` shows the hash prefixes)"
        )
    table["key_hashes"] = [h for h in hashes if h != matches[0]]
    _forget_expiry(table, matches[0])
    _write(path, tomli_w.dumps(data))
    return matches[0]


def rotate_keys(path: Path, source: str, key_hash: str, old_until: datetime | None) -> int:
    """Add `key_hash` to `source` and retire its other keys: at once (`old_until` None), or at
    `old_until` (stored in `key_expires`; a key with an earlier expiry keeps it). How many keys
    are being retired."""
    data = _load(path)
    table = _table(data, path, source)
    old: list[str] = list(table.get("key_hashes", []))
    if not old:
        raise KeyFileError(f"source '{source}' has no keys to rotate; use `trackwell keys add`")
    if old_until is None:
        table["key_hashes"] = [key_hash]
        table.pop("key_expires", None)
    else:
        table["key_hashes"] = [*old, key_hash]
        expires: dict[str, Any] = dict(table.get("key_expires", {}))
        for stored in old:
            expires[stored] = min(expires.get(stored, old_until), old_until)
        table["key_expires"] = expires
    _write(path, tomli_w.dumps(data))
    return len(old)


def _forget_expiry(table: dict[str, Any], stored: str) -> None:
    expires = dict(table.get("key_expires", {}))
    expires.pop(stored, None)
    if expires:
        table["key_expires"] = expires
    else:
        table.pop("key_expires", None)


def _load(path: Path) -> dict[str, Any]:
    text = _read(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeyFileError(f"{path}: invalid TOML: {exc}") from None


def _table(data: dict[str, Any], path: Path, source: str) -> dict[str, Any]:
    table = data.get("sources", {}).get(source)
    if not isinstance(table, dict):
        raise KeyFileError(f"{path}: no source '{source}' ([sources.{source}])")
    return table


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
