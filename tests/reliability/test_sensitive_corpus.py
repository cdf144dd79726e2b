"""A corpus of sensitive values in many shapes and places, sent through the gateway to a tool.

Card numbers (spaced, dashed, dotted, slashed, tabbed, with non-breaking spaces, followed by more
digits, inside sentences, as integers and floats, in fullwidth, Arabic-Indic and Devanagari
digits), national ids (dashed, spaced, dotted), IBANs, JWTs, bearer tokens and vendors' keys;
passwords and secrets under dozens of key spellings; in properties, traits, context, integrations,
unknown top-level fields, nested objects and arrays, and as every id and name a message has; and
in the fields whose errors echo what they got. With the policy `redact` every value in a field is
redacted and every message with a sensitive id or name is blocked; with `block` every message is
blocked; and not one raw value appears in the store's files (WAL included), a request to the
tool, a log line (DEBUG included) or an answer.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLE_PLAN
from tests.server.conftest import SERVER_KEY
from trackwell.quality.sensitive import ascii_form

from .helpers import HOOK_SECRET, TimedWebhook, in_process_gateway, wait_until

CARDS = [
    "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5500 0000 0000 0004",
    "378282246310005", "3782-822463-10005", "6011000990139424", "4242424242424242",
    # grouped with dots, slashes, underscores, tabs, non-breaking and narrow spaces
    "4111.1111.1111.1111", "5500/0000/0000/0004", "4242_4242_4242_4242", "4111\t1111\t1111\t1111",
    "4111\u00a01111\u00a01111\u00a01111", "3782\u202f822463\u202f10005", "4111 - 1111 - 1111 - 1111",
    # fullwidth, Arabic-Indic and Devanagari digits
    "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
    "\u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661",
    "\u096a\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967\u0967",
]  # fmt: skip
# A card followed by more digits (its expiry, a CVV): the whole value is what leaks.
CARDS_WITH_MORE = ["4111 1111 1111 1111 12/26", "5500-0000-0000-0004-123", "4242424242424242 0427"]
SSNS = ["078-05-1120", "219-09-9999", "536-90-4399", "078 05 1120", "219.09.9999"]
IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"]
TOKENS = [
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "Bearer 9f8e7d6c5b4a39281706abcdef",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAY34FZKBOKMUTVV7A",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "sk-proj-T4x9Qm2LcV8pZr5NwY7bKd3FhJ6sGa1UeXo0iPtR",
    "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",
    "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "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",
    "glpat-xYz12AbC3dEf45GhIjK6",
    "npm_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2",
    "-----BEGIN RSA PRIVATE KEY-----",
    "https://app.example.com/callback?access_token=ya29.a0AfH6SMBx3exampletoken&x=1",
    "https://admin:hunter2hunter@db.example.com/app",
]
SECRET_KEYS = [
    "password", "Password", "PASSWORD", "passwd", "pwd", "user_password", "userPassword",
    "new-password", "confirmPassword", "current_password", "passphrase", "db_passwd", "adminPwd",
    "PasswordConfirmation", "password2", "pass_word", "secret", "client_secret", "clientSecret",
    "api_key", "apiKey", "API-KEY", "access_token", "accessToken", "refresh_token", "authToken",
    "session_token", "id_token", "csrf_token", "private_key", "secret_key", "jwt", "authorization",
    "cvv", "cvc", "security_code", "card_number", "cardNumber", "cc_number", "credit_card_number",
    "ssn", "social_security_number", "national_id", "iban", "bank_account_number", "routing_number",
    "pass", "passcode", "pin", "PIN", "userPin", "pin_code",
]  # fmt: skip


def secret_value() -> str:
    """A value no check could recognise by its shape: only its key gives it away."""
    return f"s3cr3t-{uuid.uuid4().hex[:12]}"


def shapes() -> list[tuple[str, Any]]:
    """(raw value as it would leak, the value placed in a message)."""
    found: list[tuple[str, Any]] = []
    for card in CARDS:
        found.append((card, card))
        found.append((card, f"my card is {card}, expires 12/29"))
    for card in CARDS_WITH_MORE:
        found.append((card, card))
    found.append(("4111111111111111", 4111111111111111))  # a number, not a string
    found.append(("4111111111111111", 4111111111111111.0))  # and as a float
    found.append(("378282246310005", -378282246310005))
    for value in SSNS + IBANS + TOKENS:
        found.append((value, value))
        found.append((value, f"note: {value} (from the form)"))
    return found


def places(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """The value at each place a message's fields can carry it: (label, the message's fields)."""
    return [
        ("properties", {"properties": {"note": value}}),
        ("properties nested", {"properties": {"checkout": {"payment": {"memo": value}}}}),
        ("properties array", {"properties": {"lines": [{"sku": "a"}, {"memo": [1, value]}]}}),
        ("context", {"context": {"page": {"referrer": value}}}),
        ("context traits", {"context": {"traits": {"memo": value}}}),
        ("traits", {"type": "identify", "traits": {"email": "a@example.com", "memo": value}}),
        ("traits array", {"type": "identify", "traits": {"cards": [[value]]}}),
        ("integrations", {"integrations": {"All": True, "Webhook": {"memo": value}}}),
        ("integrations array", {"integrations": {"Mixpanel": {"tags": ["x", value]}}}),
        ("unknown top-level field", {"memo": value}),
        ("unknown top-level object", {"custom": {"form": [{"memo": value}]}}),
    ]


def id_places(value: str | int) -> list[tuple[str, dict[str, Any]]]:
    """The value as each id and name a message has: these cannot be redacted, only blocked."""
    return [
        ("userId", {"userId": value}),
        ("anonymousId", {"anonymousId": value}),
        ("messageId", {"messageId": value}),
        ("event", {"event": value}),
        ("page name", {"type": "page", "name": value}),
        ("groupId", {"type": "group", "groupId": value}),
        ("previousId", {"type": "alias", "previousId": value}),
    ]


# (what, raw values that must never appear, message fields, the effect expected under `redact`)
Item = tuple[str, list[str], dict[str, Any], str]


def corpus() -> list[Item]:
    """Every shape in every place, and every secret key in every place an object can be."""
    messages: list[Item] = []
    for raw, value in shapes():
        for label, fields in places(value):
            messages.append((f"{raw!r} in {label}", [raw], fields, "repair"))
        if type(value) is not float:  # a float id is malformed, and its error quotes nothing
            for label, fields in id_places(value):
                if type(value) is not str and label in ("event", "page name"):
                    continue  # a number as a name is malformed, and quoted nowhere
                messages.append((f"{raw!r} as {label}", [raw], fields, "block"))
    for key in SECRET_KEYS:
        for label, fields in places(SECRET_KEY_MARK):
            value = secret_value()
            messages.append((f"{key} in {label}", [value], _keyed(fields, key, value), "repair"))
    return messages


SECRET_KEY_MARK = "\x00mark"


def _keyed(fields: Any, key: str, value: str) -> Any:
    """`fields` with every `{"memo": MARK}` (or MARK in a list) turned into `{key: value}`."""
    if isinstance(fields, dict):
        return {
            (key if v == SECRET_KEY_MARK else k): (
                value if v == SECRET_KEY_MARK else _keyed(v, key, value)
            )
            for k, v in fields.items()
        }
    if isinstance(fields, list):
        return [{key: value} if v == SECRET_KEY_MARK else _keyed(v, key, value) for v in fields]
    return fields


# Fields whose errors echo what they got: their answers must not echo a secret.
ECHOES: list[tuple[str, dict[str, Any]]] = [
    ("timestamp", {"timestamp": "4111 1111 1111 1111"}),
    ("sentAt", {"sentAt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}),
    ("type", {"type": "5500 0000 0000 0004"}),
    ("type (long)", {"type": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"}),
]  # fmt: skip


def message(n: int, fields: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "track",
        "userId": f"corpus-{n % 7}",
        "event": "Feature Used",
        "messageId": f"corpus-{n}",
        "properties": {"feature_name": "projects"},
    }
    kind = fields.get("type", "track")
    if kind != "track":
        base.pop("event")
    if kind in ("identify", "group", "alias"):
        base.pop("properties")
    extra = dict(fields)
    if "properties" in extra:
        extra["properties"] = {"feature_name": "projects", **extra["properties"]}
    return {**base, **extra}


@pytest.fixture(params=["redact", "block"])
def policy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    text = EXAMPLE_PLAN.read_text()
    if request.param == "block":
        text = text.replace("sensitive_data: redact", "sensitive_data: block")
        assert "sensitive_data: block" in text
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    yield request.param, plan


def test_no_sensitive_value_survives_anywhere(
    policy: tuple[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mode, plan = policy
    caplog.set_level(logging.DEBUG)
    items = corpus()
    hook = TimedWebhook().start()
    from trackwell.destinations import Webhook

    tool = Webhook("hook", url=hook.url + hook.path, secret=HOOK_SECRET, timeout=5.0)
    answers: list[str] = []
    missed: list[str] = []
    wrong: list[str] = []
    try:
        with (
            in_process_gateway(tmp_path, plan=plan, destinations=[tool], access_log=True) as (
                url,
                store,
            ),
            httpx.Client(auth=(SERVER_KEY, ""), timeout=10) as client,
        ):
            for start in range(0, len(items), 25):  # the answer lists up to 100 violations
                chunk = items[start : start + 25]
                batch = [message(start + i, item[2]) for i, item in enumerate(chunk)]
                response = client.post(f"{url}/v1/batch", json={"batch": batch})
                assert response.status_code == 200, [
                    (r.getMessage(), getattr(r, "fields", None)) for r in caplog.records[-5:]
                ]
                answers.append(response.text)
                body = response.json()
                assert "violationsNotListed" not in body
                effects: dict[int, set[str]] = {}
                for v in body["violations"]:
                    if v["code"] == "sensitive_data":
                        effects.setdefault(v["index"], set()).add(v["effect"])
                for i, (what, _, _, effect) in enumerate(chunk):
                    wanted = "block" if mode == "block" else effect
                    if i not in effects:
                        missed.append(what)
                    elif wanted not in effects[i]:
                        wrong.append(f"{what}: {effects[i]}")
                blocked = sum(1 for item in chunk if mode == "block" or item[3] == "block")
                assert body["blocked"] == blocked, body
            for n, (_, fields) in enumerate(ECHOES):  # errors that quote what they got
                for path in ("/v1/track", "/v1/batch"):
                    sent = message(10_000 + n, fields)
                    payload = sent if path == "/v1/track" else {"batch": [sent]}
                    response = client.post(f"{url}{path}", json=payload)
                    assert response.status_code in (200, 400), response.text
                    answers.append(response.text)
            if mode == "redact":
                expected = sum(1 for item in items if item[3] == "repair")
                assert wait_until(lambda: len(hook.ids()) >= expected, 30), len(hook.ids())
            for item_id in ("corpus-0", "corpus-1"):
                entry = store.get(item_id)
                assert entry is not None
                assert entry.verdict == ("repaired" if mode == "redact" else "blocked")
        files = b"".join(
            path.read_bytes() for path in tmp_path.glob("inproc.db*") if path.is_file()
        )
        sent_to_tool = b"".join(request.body for request in hook.requests)
    finally:
        tool.close()
        hook.stop()
    assert missed == [], f"{len(missed)} of {len(items)} not flagged, e.g. {missed[:10]}"
    assert wrong == [], f"{len(wrong)} with the wrong effect, e.g. {wrong[:10]}"
    assert files, "no store files found to scan"
    if mode == "redact":
        assert b"[redacted:" in sent_to_tool and b"[redacted:" in files
    logs = "\n".join(
        f"{r.getMessage()} {getattr(r, 'fields', '')} {r.exc_text or ''}" for r in caplog.records
    )
    assert logs.strip(), "no log lines were captured"
    raws = {raw for _, values, _, _ in items for raw in values} | {
        str(value) for _, fields in ECHOES for value in fields.values()
    }
    leaks = []
    for raw in sorted(raws):
        forms = {raw, re.sub(r"[ -]", "", raw), json.dumps(raw)[1:-1]}
        digits = "".join(c for c in ascii_form(raw) if c.isdigit())
        if len(digits) >= 9:  # a number in any script or grouping is the same number
            forms.add(digits)
        if len(raw) >= 20:
            forms.add(raw[-16:])  # the tail of a token is as secret as the whole
        for form in forms:
            needle = form.encode()
            for where, haystack in (
                ("the store's files", files),
                ("a request to the tool", sent_to_tool),
                ("the logs", logs.encode()),
                ("an answer", "\n".join(answers).encode()),
            ):
                if needle in haystack:
                    leaks.append(f"{form!r} in {where}")
    assert leaks == [], f"{len(leaks)} leaks: {leaks[:12]}"
