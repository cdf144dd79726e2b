"""Sensitive-data detection: each kind, and the near misses that must not be flagged."""

from __future__ import annotations

from typing import Any

import pytest

from trackwell.quality.sensitive import iban_valid, luhn_valid, scan, value_kind


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("4111111111111111", "card_number"),
        ("4111 1111 1111 1111", "card_number"),
        ("paid with 5500-0000-0000-0004 today", "card_number"),
        ("378282246310005", "card_number"),  # Amex, 15 digits
        ("SSN 123-45-6789", "ssn"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl", "secret_token"),
        ("Bearer abcdef0123456789", "secret_token"),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "secret_token"),
        ("https://x.io/cb?code=1&access_token=zzz999", "secret_token"),
        ("GB82 WEST 1234 5698 7654 32", "iban"),
        ("DE89370400440532013000", "iban"),
    ],
)
def test_values_are_recognised(value: str, kind: str) -> None:
    assert value_kind(value) == kind


@pytest.mark.parametrize(
    "value",
    [
        "4111111111111112",  # a 16-digit order number that fails Luhn
        "order 1234567812345678",
        "2026-11-29T10:00:00Z",
        "+1 (555) 010-9999",
        "123-456-789",
        "GB82 WEST 1234 5698 7654 33",  # IBAN shape, wrong checksum
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36",
        "https://example.com/pricing?utm_source=newsletter",
        "a perfectly ordinary sentence",
    ],
)
def test_near_misses_are_not_flagged(value: str) -> None:
    assert value_kind(value) is None


def test_luhn_and_iban_checksums() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("GB82WEST12345698765432") and not iban_valid("GB82WEST12345698765431")


def found(value: Any) -> set[tuple[str, str]]:
    hits: list[tuple[tuple[str | int, ...], str]] = []
    scan(value, ("properties",), hits)
    return {(".".join(str(p) for p in path), kind) for path, kind in hits}


def test_keys_values_and_depth() -> None:
    payload = {
        "cvv": "123",
        "card_number": "n/a",
        "user": {"profile": {"new_password": "x"}},
        "items": [{"note": "ssn 078-05-1120"}, 4111111111111111],
        "diagnosis": "flu",
        "token_count": 1200,
        "plan": "pro",
        "empty_secret": "",
    }
    assert found(payload) == {
        ("properties.cvv", "cvv"),
        ("properties.card_number", "card_number"),
        ("properties.user.profile.new_password", "password"),
        ("properties.items.0.note", "ssn"),
        ("properties.items.1", "card_number"),
        ("properties.diagnosis", "health"),
    }


def test_an_order_number_integer_is_not_a_card() -> None:
    assert found({"order_id": 4111111111111112}) == set()
