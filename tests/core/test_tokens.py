"""core.tokens: the one way a secret is generated, stored as a hash and compared."""

from __future__ import annotations

import hashlib

from trackwell.core.tokens import (
    HASH_PREFIX,
    hash_token,
    is_token_hash,
    new_token,
    token_digest,
    token_matches,
)


def test_a_hash_is_sha256_hex_behind_its_prefix() -> None:
    stored = hash_token("tw_secret")
    assert stored == HASH_PREFIX + hashlib.sha256(b"tw_secret").hexdigest()
    assert bytes.fromhex(stored.removeprefix(HASH_PREFIX)) == token_digest("tw_secret")
    assert is_token_hash(stored)


def test_only_the_written_form_is_a_hash() -> None:
    digits = "ab" * 32
    assert is_token_hash(HASH_PREFIX + digits)
    for value in (digits, HASH_PREFIX + digits[:-1], HASH_PREFIX + digits.upper(), None, 7):
        assert not is_token_hash(value)
    assert not is_token_hash(HASH_PREFIX + "g" * 64)


def test_matching_takes_the_secret_never_its_hash() -> None:
    stored = hash_token("right")
    assert token_matches("right", stored)
    assert not token_matches("wrong", stored)
    assert not token_matches(stored, stored)
    assert not token_matches("right", "sha256:é")  # a garbled configured hash never raises


def test_new_tokens_are_random_and_prefixed() -> None:
    tokens = {new_token("tw_") for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith("tw_") and len(t) == 3 + 32 for t in tokens)
    assert len(new_token(nbytes=12)) == 16
