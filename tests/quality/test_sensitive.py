"""Sensitive-data detection: each kind, and the near misses that must not be flagged."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from trackwell.cli.demo import day_of_traffic
from trackwell.pipeline.accept import prepare
from trackwell.plan import Plan
from trackwell.quality import compile_plan
from trackwell.quality.secret_patterns import SECRET_FORMATS
from trackwell.quality.sensitive import iban_valid, luhn_valid, number_is_card, scan, value_kind


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


# -- the formats the attack run found missing ---------------------------------------------

FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "4111111111111111")
ARABIC_INDIC = "".join(chr(0x0660 + int(d)) if d != " " else d for d in "4111 1111 1111 1111")
DEVANAGARI = "".join(chr(0x0966 + int(d)) for d in "5500000000000004")


@pytest.mark.parametrize(
    "value",
    [
        "4111 1111 1111 1111 12/26",  # a card followed by its expiry
        "4242424242424242 0427",
        "5500-0000-0000-0004-123",
        "4111.1111.1111.1111",
        "5500/0000/0000/0004",
        "4242_4242_4242_4242",
        "4111\t1111\t1111\t1111",
        "4111\u00a01111\u00a01111\u00a01111",  # non-breaking spaces
        "3782\u202f822463\u202f10005",  # narrow non-breaking spaces, Amex grouping
        "4111 - 1111 - 1111 - 1111",
        FULLWIDTH,
        ARABIC_INDIC,
        DEVANAGARI,
        f"card: {FULLWIDTH} thanks",
    ],
)
def test_cards_in_any_grouping_or_script(value: str) -> None:
    assert value_kind(value) == "card_number"


@pytest.mark.parametrize("value", ["078 05 1120", "219.09.9999", "SSN: 536-90-4399"])
def test_national_ids_dashed_spaced_or_dotted(value: str) -> None:
    assert value_kind(value) == "ssn"


@pytest.mark.parametrize(
    "value",
    [
        "000-12-3456",  # never issued: area 000, 666 or 9xx, group 00, serial 0000
        "666-12-3456",
        "912 34 5678",
        "123 00 4567",
        "123.45.0000",
        "123-45 6789",  # mixed separators: not one number
        "123456789",  # nine bare digits are a count, not an id
    ],
)
def test_ssn_near_misses(value: str) -> None:
    assert value_kind(value) is None


# One real-looking sample per row of the catalogue (documented example keys where vendors
# publish them, otherwise made up in the documented format).
SECRET_SAMPLES = {
    "AWS access key id (AKIA, ASIA, ...)": "ASIAY34FZKBOKMUTVV7A",
    "Stripe secret or restricted key (live and test)": "rk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "GitHub token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
    "GitHub fine-grained token": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123",
    "Slack token": "xoxp-17653672481-19874698323-pdFZKVeTuE8sk7oO",
    "Slack webhook": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "Twilio account or key sid": "AC0123456789abcdef0123456789abcdef",
    "SendGrid key": "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",
    "Mailchimp key": "0123456789abcdef0123456789abcdef-us12",
    "npm token": "npm_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2",
    "PyPI token": "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMAACKlsz",
    "Private key block": "-----BEGIN OPENSSH PRIVATE KEY-----",
    "Azure storage account key": "AccountKey=" + "a1B2c3D4" * 11,
    "Discord bot token": "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
    "GitLab token": "glpat-xYz12AbC3dEf45GhIjK6",
    "GitLab runner registration token": "GR1348941xYz12AbC3dEf45GhIjK6",
    "Telegram bot token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0",
    "Square OAuth secret or token": "sq0atp-ABCDEFGHIJKLMNOPQRSTUV",
    "Artifactory token": "AKCp8jQ8J3M4nHJ7AbCdEf",
    "Google API key": "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "Google OAuth access token": "ya29.a0AfH6SMBx3exampletokenvalue",
    "OpenAI key": "sk-proj-T4x9Qm2LcV8pZr5NwY7bKd3FhJ6sGa1UeXo0iPtR",
    "Anthropic key": "sk-ant-api03-" + "Ab3_dE-6" * 6,
    "Shopify token": "shpat_0123456789abcdef0123456789abcdef",
    "Segment public API token": "sgp_" + "A1b2C3d4" * 8,
    "Password in a URL": "postgres://app:hunter2hunter@db.example.com:5432/app",
}


def test_every_format_in_the_catalogue_has_a_sample_and_is_caught() -> None:
    assert {vendor for vendor, _, _ in SECRET_FORMATS} == set(SECRET_SAMPLES)
    for vendor, sample in SECRET_SAMPLES.items():
        assert value_kind(sample) == "secret_token", vendor
        assert value_kind(f"key was {sample} (from the form)") == "secret_token", vendor


def test_legacy_openai_keys_too() -> None:
    assert value_kind("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") == "secret_token"


@pytest.mark.parametrize(
    "value",
    [
        "550e8400-e29b-41d4-a716-446655440000",
        "12345678-1234-4123-8123-123456789012",  # a UUID of digits only
        "1733500000000",  # Unix time in milliseconds
        "2026-12-07 10:15:30.123",
        "07.12.2026 10:15",
        "2026/12/07",
        "+44 7911 123456",
        "+1 415 555 2671",
        "192.168.100.200",
        "v12.4.1234.5678",
        "ord_20261207_000123",
        "sku-4111-1111",
        "AKIA",  # a prefix alone
        "sk-not-a-key",
        "asia pacific region",
        "task_done_1234567890",
        "1234 5678 9012 3456 7890 1234",  # a long reference in groups of four, not a card
    ],
)
def test_ordinary_values_are_not_flagged(value: str) -> None:
    assert value_kind(value) is None


def test_random_uuids_and_timestamps_are_never_flagged() -> None:
    rng = random.Random(16)
    for _ in range(20_000):
        assert value_kind(str(uuid.UUID(int=rng.getrandbits(128), version=4))) is None
        digits = "".join(rng.choice("0123456789") for _ in range(32))
        assert value_kind(str(uuid.UUID(digits))) is None
        assert not number_is_card(rng.randrange(10**12, 2 * 10**12))  # Unix ms, to 2033


def test_numbers_as_integers_floats_and_negative() -> None:
    assert number_is_card(4111111111111111)
    assert number_is_card(4111111111111111.0)
    assert number_is_card(-378282246310005)
    assert not number_is_card(4111111111111111.5)
    assert not number_is_card(1733500000000)
    assert found({"amount": 4111111111111111.0, "n": [5.5e15, 12.5]}) == {
        ("properties.amount", "card_number")
    }


@pytest.mark.parametrize(
    ("key", "flagged"),
    [
        ("pass", True),
        ("Pass", True),
        ("passcode", True),
        ("pass_code", True),
        ("pin", True),
        ("PIN", True),
        ("userPin", True),
        ("pin_code", True),
        ("atm_pin", True),
        ("boarding_pass", False),
        ("pass_type", False),
        ("season_pass", False),
        ("passenger", False),
        ("pinned", False),
        ("pin_count", False),
        ("spinner", False),
    ],
)
def test_short_password_key_names(key: str, flagged: bool) -> None:
    assert (found({key: "1234"}) == {(f"properties.{key}", "password")}) is flagged


def test_a_boolean_under_a_sensitive_key_is_not_a_secret() -> None:
    assert found({"pin": True, "password": False, "pinned": True}) == set()


def test_no_false_positives_on_demo_traffic(example_plan: Plan) -> None:
    """A day of the demo's traffic: the only sensitive field is the card the demo sends on
    purpose (`Payment Failed.card_number`), to show the guard at work."""
    compiled = compile_plan(example_plan)
    received = datetime.now(UTC)
    flagged: list[str] = []
    messages = day_of_traffic(300, 16)
    for item in messages:
        checked = prepare(compiled, item, received)
        flagged += [v.path for v in checked.violations if v.code == "sensitive_data"]
    assert len(messages) > 1000
    assert set(flagged) <= {"properties.card_number"}


def test_the_fast_exit_for_generated_ids_is_exact() -> None:
    """UUIDs and ULIDs skip the patterns; a value of the same length and hyphens does not."""
    assert value_kind("01JEX3K9Q8W2N5M7R4T6Y8Z0AB") is None
    assert value_kind("2F1C6C1E5A0F4B5E9D7E3A0C4D1B2E6F") is None
    assert value_kind("my card:-4111-1111-1111-1111 thanks!") == "card_number"  # 36, 8-4-4-4
    assert value_kind("AKIAIOSFODNN7EXAMPLE-ASIAY34FZKBOKMUT") == "secret_token"


def test_a_long_run_of_jwt_starts_is_scanned_in_linear_time() -> None:
    # `eyJ-` repeated once made the JWT pattern restart at every `eyJ`: seconds for 32 KB.
    short, long = "eyJ-" * 1_000, "eyJ-" * 8_000
    timings = []
    for value in (short, long):
        started = time.perf_counter()
        found: list[Any] = []
        scan(value, ("properties", "x"), found)
        timings.append(time.perf_counter() - started)
        assert found == []
    assert timings[1] < 0.05 or timings[1] < 20 * timings[0], timings
