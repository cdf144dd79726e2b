"""What a security reviewer asks before customer data goes through: keys stored hashed and
compared in constant time, a source key reads nothing, rate limits per source, and logs that
never hold a payload, a key or a token. (Size limits: tests/server/test_bad_input.py; the
console's own login, sessions and CSRF: tests/console/test_auth.py.)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route
from typer.testing import CliRunner

from tests.server.conftest import BROWSER_KEY, OTHER_KEY, SERVER_KEY, SOURCES, TRACK, harness
from trackwell.cli import app as cli
from trackwell.io.config import ConfigError, load_settings
from trackwell.server import auth
from trackwell.server.auth import KeyRing, hash_key
from trackwell.server.ratelimit import SourceLimits

from .helpers import TimedWebhook, hook_config, hook_env, start_gateway, wait_until

ADMIN_TOKEN = "tw-admin-" + "7" * 32
PUBLIC_GETS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/trackwell.js", "/login"}
SECRET_EMAIL = "ada.lovelace.1815@example.com"
SECRET_USER = "user-ada-1815"
SECRET_VALUE = "unique-property-value-5713"


# -- keys ---------------------------------------------------------------------------------------


def test_keys_are_stored_as_hashes_and_never_as_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    made = CliRunner().invoke(cli, ["keys", "add", "backend"])
    assert made.exit_code == 0, made.output
    key = next(word for word in made.output.split() if word.startswith(auth.KEY_PREFIX))
    config = (tmp_path / "trackwell.toml").read_text()
    assert key not in config and key[3:] not in config
    assert hashlib.sha256(key.encode()).hexdigest() in config
    ring = KeyRing.from_config(load_settings(config=tmp_path / "trackwell.toml").sources)
    assert ring.find(key) is not None and ring.find(key + "x") is None
    kept = repr(vars(ring)).encode() + b"".join(entry[0] for entry in ring._entries)
    assert key.encode() not in kept


def test_a_key_is_compared_with_every_hash_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tables = {f"s{n}": {"key_hashes": [hash_key(f"tw_key_{n}")]} for n in range(6)}
    ring = KeyRing.from_config(tables)
    calls: list[int] = []
    original = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append(1)
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    for presented in ("tw_key_0", "tw_key_5", "not-a-key"):
        calls.clear()
        ring.find(presented)
        # Every stored hash is compared, with compare_digest, whether the first one matches or
        # none does: the time taken says nothing about which key (or how much of it) was right.
        assert len(calls) == 6, presented


def test_the_console_token_is_compared_in_constant_time() -> None:
    from trackwell.console import auth as console_auth

    source = Path(console_auth.__file__).read_text()
    check = source[source.index("def check_token") :].split("\n    def ", 1)[0]
    assert "hmac.compare_digest" in check and "==" not in check


# -- a source key reads nothing ------------------------------------------------------------------


def _get_paths(app: Any) -> list[str]:
    """Every GET path of the app, console included, with its parameters filled in."""
    found: list[str] = []
    for route in app.routes:
        if isinstance(route, Mount):
            for inner in route.routes:
                if isinstance(inner, Route) and "GET" in (inner.methods or ()):
                    found.append(route.path.rstrip("/") + inner.path)
                elif isinstance(inner, Mount):
                    found.append(route.path.rstrip("/") + inner.path + "/console.js")
        elif isinstance(route, Route) and "GET" in (route.methods or ()):
            found.append(route.path)
    return [re.sub(r"\{[^}]+\}", SECRET_USER, path) or "/" for path in found]


@pytest.mark.anyio
async def test_a_source_key_cannot_read_anything(tmp_path: Path) -> None:
    admin_hash = "sha256:" + hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
    async with harness(tmp_path, admin_token_hash=admin_hash) as h:
        identify = {
            "type": "identify",
            "userId": SECRET_USER,
            "traits": {"email": SECRET_EMAIL, "created_at": 1767600000},
        }
        track = {**TRACK, "userId": SECRET_USER, "properties": {"plan": SECRET_VALUE}}
        answer = await h.client.post(
            "/v1/batch", json={"batch": [identify, track]}, auth=(SERVER_KEY, "")
        )
        assert answer.status_code == 200
        app = h.client._transport.app  # type: ignore[attr-defined]
        paths = _get_paths(app)
        assert any(p.startswith("/api/") for p in paths), paths  # the console is mounted
        opened = []
        for path in paths:
            for how in ("basic", "bearer", "query", "browser"):
                headers: dict[str, str] = {}
                url = path
                if how == "basic":
                    headers["Authorization"] = httpx.BasicAuth(SERVER_KEY, "")._auth_header
                elif how == "bearer":
                    headers["Authorization"] = f"Bearer {SERVER_KEY}"
                elif how == "query":
                    url = f"{path}?writeKey={SERVER_KEY}&token={SERVER_KEY}"
                else:
                    url = f"{path}?writeKey={BROWSER_KEY}"
                response = await h.client.get(url, headers=headers)
                text = response.text
                leaked = [s for s in (SECRET_USER, SECRET_EMAIL, SECRET_VALUE) if s in text]
                if path in PUBLIC_GETS or path.startswith("/static"):
                    assert response.status_code in (200, 304, 404, 503), (path, how)
                    assert not leaked or path == "/login", (path, how, leaked)
                    continue
                if response.status_code < 300 or leaked:
                    opened.append((path, how, response.status_code, leaked))
                else:
                    assert response.status_code in (303, 307, 401, 403), (path, how)
        assert opened == [], opened


# -- rate limits per source ----------------------------------------------------------------------


def test_the_source_limiter_keeps_the_average_and_lets_any_batch_through() -> None:
    now = [0.0]
    sources = KeyRing.from_config({"s": {"key_hashes": [], "rate_limit": 100}}).sources
    limits = SourceLimits(sources.values(), clock=lambda: now[0])
    accepted = 0
    for _ in range(1000):  # 10 s of a client sending 20-event batches every 10 ms
        if limits.take("s", 20) == 0.0:
            accepted += 20
        now[0] += 0.01
    assert 900 <= accepted <= 100 * 10 + 100 + 20  # the rate, one bucket, one batch of debt
    assert limits.take("s", 2500) > 0 or limits.take("s", 2500) == 0.0
    assert SourceLimits(sources.values()).take("unlimited", 10**6) == 0.0


@pytest.mark.anyio
async def test_a_source_over_its_rate_limit_gets_429_and_the_others_do_not(tmp_path: Path) -> None:
    sources = {**SOURCES, "billing": {**SOURCES["billing"], "rate_limit": 100}}
    async with harness(tmp_path, sources=sources) as h:
        stored: list[str] = []
        refused: list[httpx.Response] = []
        for n in range(6):
            batch = [{**TRACK, "messageId": f"rl-{n}-{i}"} for i in range(60)]
            response = await h.client.post("/v1/batch", json={"batch": batch}, auth=(OTHER_KEY, ""))
            if response.status_code == 200:
                stored += [m["messageId"] for m in batch]
            else:
                refused.append(response)
            other = await h.client.post(
                "/v1/track", json={**TRACK, "messageId": f"free-{n}"}, auth=(SERVER_KEY, "")
            )
            assert other.status_code == 200  # a source without a limit is never held back
        assert refused and len(stored) <= 180
        for response in refused:
            assert response.status_code == 429
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json()["code"] == "rate_limited"
            assert "100 events/s" in response.json()["message"]
        assert h.store.count() == len(stored) + 6  # a refused request stored nothing
        time.sleep(1.2)
        again = await h.client.post(
            "/v1/batch", json={"batch": [{**TRACK, "messageId": "rl-later"}]}, auth=(OTHER_KEY, "")
        )
        assert again.status_code == 200


def test_rate_limit_is_a_checked_setting(tmp_path: Path) -> None:
    config = tmp_path / "trackwell.toml"
    config.write_text("[sources.web]\nkey_hashes = []\nrate_limit = 250\n")
    assert load_settings(config=config).sources["web"]["rate_limit"] == 250
    for bad in ("0", "-5", '"fast"', "true"):
        config.write_text(f"[sources.web]\nkey_hashes = []\nrate_limit = {bad}\n")
        with pytest.raises(ConfigError, match="rate_limit"):
            load_settings(config=config)


# -- logs ----------------------------------------------------------------------------------------


def test_logs_at_info_hold_no_payload_key_or_token(tmp_path: Path) -> None:
    """A whole run: gateway, router and a tool that fails, refuses and then takes everything;
    wrong keys, keys in URLs, bad bodies, sensitive data and console logins. Then every log line
    is searched for what must never be in one."""
    hook = TimedWebhook().start()
    hook_config(tmp_path, batch_size=20)
    key = "tw_logtest_source_key_8d1f2a"
    with (tmp_path / "trackwell.toml").open("a") as config:
        config.write(f'[sources.backend]\nkey_hashes = ["{hash_key(key)}"]\n')
    env = hook_env(hook, TRACKWELL_ADMIN_TOKEN=ADMIN_TOKEN, TRACKWELL_QUEUE_LEASE_MS="1000")
    hook.fail_next(2, status=500, body={"error": f"cannot take {SECRET_EMAIL} now"})
    served = start_gateway(tmp_path, "--log-level", "info", "--no-watch-plan", env=env)
    people = [f"{SECRET_USER}-{n}" for n in range(5)]
    try:
        with httpx.Client(base_url=served.url, timeout=10) as client:
            batch = []
            for n, person in enumerate(people):
                batch.append(
                    {"type": "identify", "userId": person, "messageId": f"log-id-{n}",
                     "traits": {"email": f"{n}.{SECRET_EMAIL}", "created_at": 1767600000,
                                "name": SECRET_VALUE}}
                )  # fmt: skip
                batch.append(
                    {**TRACK, "userId": person, "messageId": f"log-tr-{n}",
                     "context": {"note": "card 4111 1111 1111 1111"}}
                )  # fmt: skip
            assert (
                client.post("/v1/batch", json={"batch": batch}, auth=(key, "")).status_code == 200
            )
            wrong = client.post("/v1/track", json=TRACK, auth=("tw_wrong_key_presented_77", ""))
            assert wrong.status_code == 401
            in_url = client.post(f"/v1/track?writeKey={key}", json=TRACK)
            assert in_url.status_code == 403
            broken = client.post(
                "/v1/track", content=b'{"userId": "' + SECRET_USER.encode() + b'", ', auth=(key, "")
            )
            assert broken.status_code == 400
            client.get(f"/api/people/{SECRET_USER}?token={ADMIN_TOKEN}")
            client.post("/login", data={"token": "tw-admin-wrong-guess-123456789"})
            client.post("/login", data={"token": ADMIN_TOKEN})
            client.get(
                f"/people?q={SECRET_EMAIL}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            )
        wanted = {f"log-id-{n}" for n in range(5)} | {f"log-tr-{n}" for n in range(5)}
        assert wait_until(lambda: wanted <= set(hook.ids()), 30), hook.ids()
    finally:
        served.stop()
        hook.stop()
    logs = served.logs() + (tmp_path / "serve.out").read_text(errors="replace")
    lines = [line for line in served.logs().splitlines() if line.strip()]
    assert len(lines) >= 10 and any('"route":"/v1/batch"' in line for line in lines), lines[:5]
    never = [
        key, key[3:], "tw_wrong_key_presented_77", ADMIN_TOKEN, "tw-admin-wrong-guess",
        os.environ.get("TRACKWELL_HOOK_SECRET", "reliability-hook-secret"), "reliability-hook-secret",
        SECRET_EMAIL, SECRET_USER, SECRET_VALUE, "4111 1111 1111 1111", "log-id-", "log-tr-",
    ]  # fmt: skip
    found = [secret for secret in never if secret in logs]
    assert found == [], f"in the logs: {found}"
