"""Names of data that must never reach a marketing tool (card numbers, secrets, health data)."""

from __future__ import annotations

import re
from functools import lru_cache

from trackwell.plan import naming

# Kind code -> what a person calls it.
KIND_LABELS = {
    "card_number": "a card number",
    "cvv": "a card security code",
    "ssn": "a national id number",
    "password": "a password",
    "secret_token": "a secret token or key",
    "iban": "a bank account number",
    "health": "health data",
}

# Matched against the words of a name joined by single spaces ("user card number").
_NAME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "card_number",
        re.compile(r"\b(card|cc|credit card) ?(number|num|no)\b|\bpan\b|\bcardnumber\b"),
    ),
    ("cvv", re.compile(r"\b(cvv2?|cvc2?|csc|card code|card verification|security code)\b")),
    (
        "password",
        re.compile(
            r"\b(password|passwd|passphrase|passcode|pass code|pwd|pass word|pincode|pin code)\b"
            # `pass` and `pin` alone, or after whose they are ("user pass", "atm pin"); never
            # "boarding pass" or "pin count"
            r"|^((user|login|account|admin|db|wifi|sim|card|atm|new|old|current|confirm) )?"
            r"(pass|pin)( (number|no|value|confirmation))?$"
        ),
    ),
    (
        "ssn",
        re.compile(
            r"\b(ssn|social security( number)?|national (id|insurance)( number)?|tax id"
            r"|passport (number|no)|sin)\b"
        ),
    ),
    ("iban", re.compile(r"\b(iban|bank account( number)?|account number|routing number)\b")),
    (
        "secret_token",
        re.compile(
            r"\b(access|refresh|id|auth|bearer|session|verification|reset|api|secret|csrf|oauth)"
            r" token\b|\bapi ?key\b|\bsecret( key)?\b|\bprivate key\b|\bclient secret\b"
            r"|\btoken\b(?! (count|usage|limit|used|total|balance|type|expires|expiry))"
            r"|\bjwt\b|\bauthorization\b"
        ),
    ),
    (
        "health",
        re.compile(
            r"\b(diagnosis|diagnoses|medical|health condition|medication|prescription|symptoms?"
            r"|disease|icd ?10)\b"
        ),
    ),
)


@lru_cache(maxsize=4096)
def sensitive_kind(name: str) -> str | None:
    """The kind of sensitive data a field called `name` would hold (`card_number`, ...), or None."""
    spaced = " ".join(naming.words(name))
    for kind, pattern in _NAME_PATTERNS:
        if pattern.search(spaced):
            return kind
    return None
