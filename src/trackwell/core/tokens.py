"""Secrets kept only as hashes: write keys and admin or metrics tokens, `sha256:<hex>`.

Every such secret is random (made by `new_token`), so a plain SHA-256 needs no salt and no slow
hash: guessing one is as hard as guessing the secret itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HASH_PREFIX = "sha256:"
_HEX_DIGITS = 64
_HEX = frozenset("0123456789abcdef")


def new_token(prefix: str = "", nbytes: int = 24) -> str:
    """A new random secret: `prefix` and `nbytes` random bytes, URL-safe (24 bytes: 192 bits)."""
    return prefix + secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> bytes:
    """The raw SHA-256 of a secret (what a hash stored as `sha256:<hex>` spells out)."""
    return hashlib.sha256(token.encode()).digest()


def hash_token(token: str) -> str:
    """The form a secret is stored in: `sha256:<64 lower-case hex digits>`."""
    return HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def is_token_hash(value: object) -> bool:
    """Whether a configured value is a hash as `hash_token` writes it."""
    if not isinstance(value, str) or not value.startswith(HASH_PREFIX):
        return False
    digits = value[len(HASH_PREFIX) :]
    return len(digits) == _HEX_DIGITS and _HEX.issuperset(digits)


def token_matches(token: str, stored_hash: str) -> bool:
    """Whether `token` is the secret whose hash is `stored_hash`, in constant time: both sides
    are hashes of one length, so neither the token's content nor its length leaks."""
    return hmac.compare_digest(hash_token(token).encode(), stored_hash.encode())
