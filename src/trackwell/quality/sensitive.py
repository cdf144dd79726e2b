"""Find sensitive data in keys and values at any depth, and redact it before it goes anywhere."""

from __future__ import annotations

import re
from typing import Any

from trackwell.plan.sensitive import sensitive_kind

# One pass over each string: every value shape worth a closer look, by named group.
_VALUE_RE = re.compile(
    r"(?P<card>(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-]))"
    r"|(?P<ssn>\b\d{3}-\d{2}-\d{4}\b)"
    r"|(?P<jwt>\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*)"
    r"|(?P<bearer>\b[Bb]earer\s+[\w.~+/=-]{8,})"
    r"|(?P<key>\b(?:[sr]k_(?:live|test)_\w{10,}|gh[pousr]_\w{20,}|xox[abprs]-[\w-]{10,}"
    r"|AKIA[0-9A-Z]{16})\b)"
    r"|(?P<url>[?&#](?:access_token|id_token|refresh_token|token|api_key|apikey|password|secret)"
    r"=[^&\s#]+)"
    r"|(?P<iban>\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b)"
)
_GROUP_KIND = {
    "card": "card_number",
    "ssn": "ssn",
    "jwt": "secret_token",
    "bearer": "secret_token",
    "key": "secret_token",
    "url": "secret_token",
    "iban": "iban",
}
# Digit runs shorter than this cannot be card numbers, so most strings skip the regex.
_MIN_INTERESTING = 9
# Integers from here on have 13+ digits: possibly a card number.
_CARD_INT_FLOOR = 10**12

# Keys repeat across messages, and so do most string values (library names, plan names, user
# agents): remember keys' verdicts, and values found clean. A sensitive value is never kept.
_key_cache: dict[str, str | None] = {}
_clean_values: set[str] = set()
_CACHE_LIMIT = 50_000
_UNSEEN = "?"

Path = tuple[str | int, ...]


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if index % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN."""
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _key_kind(key: str) -> str | None:
    kind = sensitive_kind(key)
    if len(_key_cache) >= _CACHE_LIMIT:
        _key_cache.clear()
    _key_cache[key] = kind
    return kind


def _string_kind(value: str) -> str | None:
    if value in _clean_values:
        return None
    kind = value_kind(value)
    if kind is None and len(value) <= 256:
        if len(_clean_values) >= _CACHE_LIMIT:
            _clean_values.clear()
        _clean_values.add(value)
    return kind


def value_kind(value: str) -> str | None:
    """The kind of sensitive data a string holds, or None."""
    if len(value) < _MIN_INTERESTING:
        return None
    for match in _VALUE_RE.finditer(value):
        group = match.lastgroup
        if group == "card":
            digits = re.sub(r"[ -]", "", match.group())
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                return "card_number"
            continue
        if group == "iban":
            if iban_valid(match.group()):
                return "iban"
            continue
        return _GROUP_KIND[group or ""]
    return None


def scan(value: Any, path: Path, found: list[tuple[Path, str]]) -> None:
    """Append (path, kind) for every sensitive key or value under `value`."""
    # The hot path of every check: type() identity tests and cache lookups, no regex for
    # values already seen clean.
    if type(value) is dict:
        keys = _key_cache
        for key, item in value.items():
            kind = keys.get(key, _UNSEEN)
            if kind == _UNSEEN:
                kind = _key_kind(key)
            if kind is not None and item is not None and item != "":
                found.append(((*path, key), kind))
                continue
            # Inlined _scan_item: a call per value would cost a third of the scan.
            kind_of = type(item)
            if kind_of is str:
                if len(item) >= _MIN_INTERESTING and item not in _clean_values:
                    kind = _string_kind(item)
                    if kind is not None:
                        found.append(((*path, key), kind))
            elif kind_of is dict or kind_of is list:
                scan(item, (*path, key), found)
            elif kind_of is int and item >= _CARD_INT_FLOOR and luhn_valid(str(item)):
                found.append(((*path, key), "card_number"))
    elif type(value) is list:
        for index, item in enumerate(value):
            _scan_item(item, index, path, found)


def _scan_item(item: Any, step: str | int, path: Path, found: list[tuple[Path, str]]) -> None:
    kind_of = type(item)
    if kind_of is str:
        if len(item) >= _MIN_INTERESTING:
            kind = _string_kind(item)
            if kind is not None:
                found.append(((*path, step), kind))
    elif kind_of is dict or kind_of is list:
        scan(item, (*path, step), found)
    elif kind_of is int and item >= _CARD_INT_FLOOR and luhn_valid(str(item)):
        found.append(((*path, step), "card_number"))


def redacted(kind: str) -> str:
    """What a sensitive value is replaced with: its kind, never any part of it."""
    return f"[redacted:{kind}]"


def redact(root: dict[str, Any], path: Path, kind: str) -> None:
    """Replace the value at `path` (below `root`) with its redaction marker."""
    container: Any = root
    for step in path[:-1]:
        container = container[step]
    container[path[-1]] = redacted(kind)


def format_path(path: Path) -> str:
    """`("properties", "lines", 0, "card")` -> `properties.lines[0].card`."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text
