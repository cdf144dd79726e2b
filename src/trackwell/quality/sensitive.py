"""Find sensitive data in keys and values at any depth, and redact it before it goes anywhere."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from trackwell.plan.sensitive import sensitive_kind
from trackwell.quality.secret_patterns import SECRET_RE

# One pass over each string: every value shape worth a closer look, by named group. Values are
# NFKC-normalised first when not ASCII, so `\d` means 0-9 (re.ASCII).
_SEP = r"[ \t./_-]"
_VALUE_RE = re.compile(
    # Digit groups joined by up to three separators; which groups make a card is decided below.
    rf"(?P<card>(?<![0-9A-Za-z])\d(?:{_SEP}{{0,3}}\d){{12,}}(?![0-9A-Za-z]))"
    r"|(?P<ssn>(?<![\d-])(?!000|666|9)\d{3}(?P<ssep>[ .-])(?!00)\d{2}(?P=ssep)(?!0000)\d{4}(?![\d-]))"
    # A JWT starts a run of token characters: with a plain \b, `eyJ-eyJ-...` would be re-scanned
    # from every `eyJ` in it (quadratic: one 32 KB value held the event loop for seconds).
    r"|(?P<jwt>(?<![\w-])eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*)"
    r"|(?P<bearer>\b[Bb]earer\s+[\w.~+/=-]{8,})"
    rf"|(?P<key>{SECRET_RE.pattern})"
    r"|(?P<url>[?&#](?:access_token|id_token|refresh_token|token|api_key|apikey|password|secret)"
    r"=[^&\s#]+)"
    r"|(?P<iban>\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b)",
    re.ASCII,
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
_GROUPS = re.compile(r"\d+", re.ASCII)
# Cheap and sound: every shape above needs one of these (a run of nine or more digits and
# separators; a run of 13+ token characters; a URL, a query string, a PEM header, a bearer
# token or an IBAN's country and check digits), so words and short values skip the alternation.
_GATE = re.compile(
    r"\d[\d \t./_-]{7,}\d|[A-Za-z0-9_+/=.:-]{13,}|[?&#][\w-]+=|://|BEGIN|earer\s|[A-Z]{2}\d\d",
    re.ASCII,
)
# Ids every client library makes (UUIDs, with or without hyphens; ULIDs): new on every message,
# so worth a fast exit, and clean by construction: a UUID's groups are 8-4-4-4-12 (no card
# grouping fits) and no vendor format is a lone 26-, 32- or 36-character hex or base32 word.
_HEX = "0123456789abcdefABCDEF"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz"
# Card numbers are written in groups of four to six digits (4-4-4-4, 4-6-5, 4-6-4); the last
# group may be three. Dates, times, phone numbers and versions have shorter inner groups.
_CARD_GROUP = range(4, 7)
_CARD_LAST_GROUP = range(3, 7)  # 4-4-4-4-3 (19 digits); never a UUID's 12
# First digits of the card networks' number ranges (ISO/IEC 7812 major industry identifier 2-6:
# Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay/Maestro 6): a 13-digit Unix time
# in milliseconds (1...) or an ordinary counter is never read as a card.
_CARD_FIRST = frozenset("23456")
# Digit runs shorter than this cannot be card numbers, so most strings skip the regex.
_MIN_INTERESTING = 9
# Integers from here on have 13+ digits: possibly a card number.
_CARD_INT_FLOOR = 10**12
_CARD_INT_CEILING = 10**19

# Keys repeat across messages, and so do most string values (library names, plan names, user
# agents): remember keys' verdicts, and values found clean. A sensitive value is never kept.
_key_cache: dict[str, str | None] = {}
_clean_values: set[str] = set()
seen_clean = _clean_values  # the same set, read by the id and name scan in check.py
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


def string_kind(value: str) -> str | None:
    """`value_kind`, remembering values found clean (most values repeat across messages)."""
    if value in _clean_values:
        return None
    kind = value_kind(value)
    if kind is None and len(value) <= 256:
        if len(_clean_values) >= _CACHE_LIMIT:
            _clean_values.clear()
        _clean_values.add(value)
    return kind


_string_kind = string_kind


def ascii_form(value: str) -> str:
    """`value` with compatibility forms folded (fullwidth digits, non-breaking and thin spaces)
    and every decimal digit of any script written 0-9, so one set of patterns reads them all."""
    text = unicodedata.normalize("NFKC", value)
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def _is_generated_id(value: str) -> bool:
    """Whether `value` is a UUID (8-4-4-4-12 or 32 hex digits) or a ULID (26 base32)."""
    # `str.strip(chars)` leaves nothing exactly when every character is one of `chars`: one C
    # call, where a regex fullmatch costs several times more.
    size = len(value)
    if size == 36:
        return (
            value[8] == value[13] == value[18] == value[23] == "-"
            and value.count("-") == 4
            and not value.strip(_HEX + "-")
        )
    if size == 32:
        return not value.strip(_HEX)
    return size == 26 and not value.strip(_CROCKFORD)


def value_kind(value: str) -> str | None:
    """The kind of sensitive data a string holds, or None."""
    if len(value) < _MIN_INTERESTING:
        return None
    if not value.isascii():  # O(1) in CPython: ASCII text, the usual case, skips this
        value = ascii_form(value)
    elif _is_generated_id(value):
        return None
    if _GATE.search(value) is None:
        return None
    for match in _VALUE_RE.finditer(value):
        group = match.lastgroup
        if group == "card":
            if _has_card(match.group()):
                return "card_number"
            continue
        if group == "iban":
            if iban_valid(match.group()):
                return "iban"
            continue
        if group == "ssep":
            group = "ssn"
        return _GROUP_KIND[group or ""]
    return None


def _has_card(run: str) -> bool:
    """Whether consecutive digit groups of `run` spell a card number (Luhn-valid, 13-19 digits,
    a card network's first digit), so `4111 1111 1111 1111 12/26` is caught by its first four."""
    groups = _GROUPS.findall(run)
    if len(groups) == 1:
        return card_digits(groups[0])
    for start, first in enumerate(groups):
        if len(first) >= 13 and card_digits(first):
            return True  # written without separators, then more digits
        if first[0] not in _CARD_FIRST or len(first) not in _CARD_GROUP:
            continue
        digits = first
        for group in groups[start + 1 :]:
            digits += group
            if len(digits) > 19 or len(group) not in _CARD_LAST_GROUP:
                break
            if len(digits) >= 13 and card_digits(digits):
                return True
            if len(group) not in _CARD_GROUP:
                break  # a short group ends the number
    return False


def card_digits(digits: str) -> bool:
    """Whether a string of 0-9 digits is a card number."""
    return 13 <= len(digits) <= 19 and digits[0] in _CARD_FIRST and luhn_valid(digits)


def number_is_card(value: int | float) -> bool:
    """Whether a JSON number is a card number (sent as an integer, or as a float like 4.1e15)."""
    if type(value) is float:
        if not value.is_integer():
            return False
        value = int(value)
    value = abs(value)
    return _CARD_INT_FLOOR <= value < _CARD_INT_CEILING and card_digits(str(value))


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
            if kind is not None and item is not None and item != "" and type(item) is not bool:
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
            elif (
                (kind_of is int or kind_of is float)
                and (item >= _CARD_INT_FLOOR or item <= -_CARD_INT_FLOOR)
                and number_is_card(item)
            ):
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
    elif (
        (kind_of is int or kind_of is float)
        and (item >= _CARD_INT_FLOOR or item <= -_CARD_INT_FLOOR)
        and number_is_card(item)
    ):
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


def redacted_copy(value: Any) -> Any:
    """`value` with every sensitive value found by `scan` replaced by its marker, leaving
    `value` itself unchanged: only the dicts and lists on the way to a redaction are copied,
    so data the caller still holds (nested dicts included) is never rewritten."""
    found: list[tuple[Path, str]] = []
    scan(value, (), found)
    if not found:
        return value
    root: Any = _shallow(value)
    # Copies made so far, by id: a container reached by two redacted paths is copied once.
    copies = {id(root)}
    for path, kind in found:
        container = root
        for step in path[:-1]:
            child = container[step]
            if id(child) not in copies:
                child = _shallow(child)
                copies.add(id(child))
                container[step] = child
            container = child
        container[path[-1]] = redacted(kind)
    return root


def _shallow(container: Any) -> Any:
    return dict(container) if type(container) is dict else list(container)


def format_path(path: Path) -> str:
    """`("properties", "lines", 0, "card")` -> `properties.lines[0].card`."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text
