"""Adding, revoking and rotating a source's key hashes in trackwell.toml, keeping the rest of the
file as its author wrote it: comments, order and layout (tomlkit edits the parsed document)."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Array, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

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

    `origins` are added to the source's `allowed_origins`, with `anonymous_only` said
    explicitly, as a source with origins must: true for a browser key, else false (analytics.js
    names people).
    """
    if not _NAME.match(source):
        raise KeyFileError(f"source name {source!r}: use letters, digits, '-' and '_' (up to 64)")
    text, document = _load(path)
    current = document.unwrap().get("sources", {}).get(source)
    if current is None:
        fresh: dict[str, Any] = {"key_hashes": [key_hash]}
        _restrict_new(fresh, browser, origins)
        _write(path, _with_new_source(text, document, source, fresh))
        return
    wanted = "browser" if browser else "web" if origins else "server"
    if current.get("key_hashes") and _kind(current) != wanted:
        # What a key may send is the source's, so one source holds one kind of key: a browser
        # key added to a server source would publish the server keys' powers, and a server key
        # added to a browser source would be as limited as a browser key.
        raise KeyFileError(
            f"source '{source}' holds {_kind(current)} keys; this would be a {_KINDS[wanted]} key."
            " Keys of different kinds need sources of their own (e.g. `trackwell keys add"
            f" {source}-{wanted} ...`); nothing was changed"
        )
    table = _table(document, path, source)
    hashes = table.get("key_hashes")
    if isinstance(hashes, Array):
        hashes.append(key_hash)
    else:
        _put(table, "key_hashes", [key_hash])
    if browser:
        _put(table, "types", list(BROWSER_TYPES))
        _put(table, "anonymous_only", True)
    if origins:
        listed = table.get("allowed_origins")
        if isinstance(listed, Array):
            listed.extend(o for o in dict.fromkeys(origins) if o not in listed)
        else:
            _put(table, "allowed_origins", list(dict.fromkeys(origins)))
        if "anonymous_only" not in table:
            _put(table, "anonymous_only", False)
    _write(path, document.as_string())


def _with_new_source(text: str, document: TOMLDocument, source: str, fresh: dict[str, Any]) -> str:
    """The file with a new [sources.SOURCE] table: appended as text, so everything before it
    stays byte for byte; through the document where that would not be valid TOML (`sources`
    written as an inline table)."""
    appended = (
        text
        + ("\n" if text and not text.endswith("\n") else "")
        + ("\n" if text else "")
        + tomlkit.dumps({"sources": {source: fresh}})
    )
    if _reads_back(appended, source, fresh):
        return appended
    sources = document.get("sources")
    if sources is None:
        sources = tomlkit.table(is_super_table=True)
        document["sources"] = sources
    sources[source] = fresh
    return document.as_string()


def _reads_back(text: str, source: str, fresh: dict[str, Any]) -> bool:
    """Whether `text` is valid TOML whose [sources.SOURCE] is exactly `fresh`."""
    try:
        return bool(tomllib.loads(text).get("sources", {}).get(source) == fresh)
    except tomllib.TOMLDecodeError:
        return False


def _kind(table: dict[str, Any]) -> str:
    """The kind of a source's keys: browser (anonymous only), web (listed origins) or server."""
    if table.get("anonymous_only"):
        return "browser"
    return "web" if table.get("allowed_origins") else "server"


def source_kind(path: Path, source: str) -> str:
    """`browser`, `web` or `server`: what `source`'s keys are (for the usage line printed)."""
    _, document = _load(path)
    return _kind(_table(document, path, source).unwrap())


def revoke_key(path: Path, source: str, reference: str) -> str:
    """Remove one key of `source`, named by the key itself, its hash or a hash prefix of at
    least MIN_HASH_PREFIX hex digits (as `keys list` shows); the removed hash."""
    _, document = _load(path)
    table = _table(document, path, source)
    hashes: list[str] = [str(h) for h in table.get("key_hashes", [])]
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
    del table["key_hashes"][hashes.index(matches[0])]
    expires = table.get("key_expires")
    if isinstance(expires, Table | InlineTable) and matches[0] in expires:
        del expires[matches[0]]
        if not expires:
            del table["key_expires"]
    _write(path, document.as_string())
    return matches[0]


def rotate_keys(path: Path, source: str, key_hash: str, old_until: datetime | None) -> int:
    """Add `key_hash` to `source` and retire its other keys: at once (`old_until` None), or at
    `old_until` (stored in `key_expires`; a key with an earlier expiry keeps it). How many keys
    are being retired."""
    _, document = _load(path)
    table = _table(document, path, source)
    hashes = table.get("key_hashes")
    old: list[str] = [str(h) for h in hashes] if isinstance(hashes, Array) else []
    if not isinstance(hashes, Array) or not old:
        raise KeyFileError(f"source '{source}' has no keys to rotate; use `trackwell keys add`")
    if old_until is None:
        while len(hashes):  # emptied and refilled, so the array keeps its layout and comment
            del hashes[0]
        if "key_expires" in table:
            del table["key_expires"]
    expires = table.get("key_expires")
    hashes.append(key_hash)
    if old_until is not None:
        if not isinstance(expires, Table | InlineTable):
            expires = tomlkit.inline_table()
            _put(table, "key_expires", expires)
        for stored in old:
            earlier = expires.get(stored)
            expires[stored] = min(earlier, old_until) if earlier is not None else old_until
    _write(path, document.as_string())
    return len(old)


def _load(path: Path) -> tuple[str, TOMLDocument]:
    """The file's text and its document (checked by the standard library's parser first, whose
    messages name the line)."""
    text = _read(path)
    try:
        tomllib.loads(text)
        return text, tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as exc:
        raise KeyFileError(f"{path}: invalid TOML: {exc}") from None


def _table(document: TOMLDocument, path: Path, source: str) -> Table | InlineTable:
    sources = document.get("sources")
    table = sources.get(source) if isinstance(sources, Table | InlineTable) else None
    if not isinstance(table, Table | InlineTable):
        raise KeyFileError(f"{path}: no source '{source}' ([sources.{source}])")
    return table


def _restrict_new(table: dict[str, Any], browser: bool, origins: Sequence[str]) -> None:
    """A browser key's limits and a key's web origins, in a new source's table."""
    if browser:
        table.update(types=list(BROWSER_TYPES), anonymous_only=True)
    if origins:
        table["allowed_origins"] = list(dict.fromkeys(origins))
        table.setdefault("anonymous_only", False)


def _put(table: Table | InlineTable, key: str, value: Any) -> None:
    """Set `key` in a table: in place when it exists, else after the table's last key.

    tomlkit files the comments and blank lines that precede the next table header under the
    table before it; a key appended after them would land above the header, under a comment
    that describes the next table. They are taken off, and put back after the new key.
    """
    if key in table or isinstance(table, InlineTable):
        table[key] = value
        return
    body = table.value.body
    trailing = 0
    while trailing < len(body) and body[-1 - trailing][0] is None:
        trailing += 1
    kept = body[len(body) - trailing :]
    del body[len(body) - trailing :]
    table[key] = value
    body.extend(kept)


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
