"""core.signing: the `v0=` HMAC signature, checked against an independent computation."""

from __future__ import annotations

import hashlib
import hmac

from trackwell.core.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signature_headers,
    verify_signature,
)


def test_the_signature_is_hmac_sha256_of_version_time_and_body() -> None:
    expected = hmac.new(b"secret", b"v0:1700000000:{}", hashlib.sha256).hexdigest()
    assert sign("secret", 1_700_000_000, b"{}") == "v0=" + expected


def test_headers_carry_whole_seconds_and_verify() -> None:
    headers = signature_headers("secret", b"body", 1000.9)
    assert headers[TIMESTAMP_HEADER] == "1000"
    assert headers[SIGNATURE_HEADER] == sign("secret", 1000, b"body")
    assert verify_signature(
        "secret", b"body", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=1001
    )


def test_verification_refuses_tampering_age_and_garbage() -> None:
    good = sign("k", 1000, b"x")
    assert not verify_signature("k", b"y", "1000", good, now=1000)
    assert not verify_signature("k", b"x", "1000", good, now=1000 + 301)
    assert verify_signature("k", b"x", "1000", good, now=1000 + 600, tolerance=600)
    assert not verify_signature("k", b"x", "1000", "v0=é", now=1000)
    assert not verify_signature("k", b"x", "", good, now=1000)
