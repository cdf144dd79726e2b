"""Building destinations from trackwell.toml tables, with secrets only from the environment."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from trackwell.core.operations import OBJECT_OPERATIONS
from trackwell.destinations import Amplitude, CustomerIO, Mixpanel, SegmentCompatible, Webhook
from trackwell.destinations.base import DEFAULT_TIMEOUT_SECONDS, DestinationSettings
from trackwell.destinations.common import HttpDestination
from trackwell.destinations.registry import KINDS, env_var, from_settings

CONFIG = """
[destinations.cio-eu]
type = "customerio"
region = "eu"
api = "v1"
batch_size = 50
rate_limit = 100
timeout = 5
exclude_events = ["Heartbeat"]

[destinations.analytics]
type = "mixpanel"
project_id = "4242"
types = ["track", "identify"]

[destinations.amp]
type = "amplitude"
group_type = "account"

[destinations.cdp]
type = "segment"
base_url = "https://cdp.customer.io"

[destinations.hook]
type = "webhook"
url = "https://hooks.example.com/in"
"""

ENV = {
    "TRACKWELL_CIO_EU_SITE_ID": "site-secret",
    "TRACKWELL_CIO_EU_API_KEY": "key-secret",
    "TRACKWELL_ANALYTICS_PROJECT_TOKEN": "token-secret",
    "TRACKWELL_ANALYTICS_SERVICE_ACCOUNT_USERNAME": "user-secret",
    "TRACKWELL_ANALYTICS_SERVICE_ACCOUNT_SECRET": "pass-secret",
    "TRACKWELL_AMP_API_KEY": "amp-secret",
    "TRACKWELL_CDP_WRITE_KEY": "wk-secret",
    "TRACKWELL_HOOK_SECRET": "hook-secret",
}


def build_all(env: dict[str, str]) -> dict[str, HttpDestination]:
    tables = tomllib.loads(CONFIG)["destinations"]
    built = {name: from_settings(name, table, env) for name, table in tables.items()}
    assert all(isinstance(d, HttpDestination) for d in built.values())
    return built  # type: ignore[return-value]


def test_kinds() -> None:
    by_name = dict(KINDS)
    assert by_name == {
        "customerio": CustomerIO,
        "segment": SegmentCompatible,
        "mixpanel": Mixpanel,
        "amplitude": Amplitude,
        "webhook": Webhook,
    }


def test_env_var_names() -> None:
    assert env_var("customerio", "api_key") == "TRACKWELL_CUSTOMERIO_API_KEY"
    assert env_var("cio-eu.2", "site_id") == "TRACKWELL_CIO_EU_2_SITE_ID"


def test_tables_build_configured_destinations_with_env_secrets() -> None:
    built = build_all(ENV)
    cio = built["cio-eu"]
    assert isinstance(cio, CustomerIO)
    assert (cio.name, cio.region, cio.api, cio.base_url) == (
        "cio-eu",
        "eu",
        "v1",
        "https://track-eu.customer.io",
    )
    assert (cio.batch_size, cio.rate_limit, cio.timeout) == (50, 100.0, 5.0)
    # v1 has no objects: the object operations are never for it (nor reported delivered).
    assert cio.filter.exclude_events == frozenset(["Heartbeat"]) | OBJECT_OPERATIONS
    assert cio.filter.types == cio.supported_types  # types not given: all it can take
    assert built["analytics"].filter.types == frozenset(["track", "identify"])
    assert built["amp"].describe()["group_type"] == "account"
    assert built["cdp"].base_url == "https://cdp.customer.io"
    assert not any(d.capture for d in built.values())
    described = json.dumps([d.describe() for d in built.values()])
    assert "secret" not in described  # no credential, from any kind, in describe()
    for destination in built.values():
        destination.close()


def test_missing_credentials_are_an_error_naming_each_variable() -> None:
    # They used to mean a silent capture mode whose messages all counted as delivered.
    tables = tomllib.loads(CONFIG)["destinations"]
    expected = {
        "cio-eu": ["TRACKWELL_CIO_EU_SITE_ID", "TRACKWELL_CIO_EU_API_KEY"],
        "analytics": [
            "TRACKWELL_ANALYTICS_PROJECT_TOKEN",
            "TRACKWELL_ANALYTICS_API_SECRET (or TRACKWELL_ANALYTICS_SERVICE_ACCOUNT_USERNAME"
            " and TRACKWELL_ANALYTICS_SERVICE_ACCOUNT_SECRET)",
        ],
        "amp": ["TRACKWELL_AMP_API_KEY"],
        "cdp": ["TRACKWELL_CDP_WRITE_KEY"],
        "hook": ["TRACKWELL_HOOK_SECRET"],
    }
    for name, table in tables.items():
        with pytest.raises(ValueError) as error:
            from_settings(name, table, {})
        lines = str(error.value).splitlines()
        assert [line.split(" is not set")[0] for line in lines] == expected[name]
        assert all('mode = "capture"' in line for line in lines)
    with pytest.raises(ValueError) as error:
        from_settings("cio", {"type": "customerio"}, {"TRACKWELL_CIO_SITE_ID": "s"})
    assert str(error.value).startswith("TRACKWELL_CIO_API_KEY is not set: customerio cannot send")


def test_capture_mode_is_chosen_in_the_table() -> None:
    tables = tomllib.loads(CONFIG)["destinations"]
    for name, table in tables.items():
        built = from_settings(name, {**table, "mode": "capture"}, {})
        assert isinstance(built, HttpDestination) and built.capture
        assert built.describe()["capture"] is True
        built.close()
    # Explicit: even with credentials at hand, a capture destination sends nothing.
    cio = from_settings("cio-eu", {**tables["cio-eu"], "mode": "capture"}, ENV)
    assert isinstance(cio, CustomerIO) and cio.capture and cio.api == "v1"
    with pytest.raises(ValueError, match='mode must be "capture" or left out'):
        from_settings("amp", {"type": "amplitude", "mode": "record"}, {})


def test_customerio_mode_v1_is_still_read_as_the_api_version(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {"TRACKWELL_CIO_SITE_ID": "s", "TRACKWELL_CIO_API_KEY": "k"}
    cio = from_settings("cio", {"type": "customerio", "mode": "v1"}, env)
    assert isinstance(cio, CustomerIO) and cio.api == "v1" and not cio.capture
    assert 'write api = "v1"' in caplog.text  # deprecated, and the log says what to write
    with pytest.raises(ValueError, match="disagree"):
        from_settings("cio", {"type": "customerio", "mode": "v1", "api": "v2"}, env)
    with pytest.raises(ValueError, match='api = "v1" or "v2"'):
        from_settings("cio", {"type": "customerio", "mode": "v3"}, env)
    cio.close()


@pytest.mark.parametrize(
    ("table", "key", "variable"),
    [
        ({"type": "customerio", "api_key": "k"}, "api_key", "TRACKWELL_MY_DEST_API_KEY"),
        ({"type": "customerio", "site_id": "s"}, "site_id", "TRACKWELL_MY_DEST_SITE_ID"),
        ({"type": "segment", "write_key": "w"}, "write_key", "TRACKWELL_MY_DEST_WRITE_KEY"),
        ({"type": "mixpanel", "api_secret": "s"}, "api_secret", "TRACKWELL_MY_DEST_API_SECRET"),
        (
            {"type": "webhook", "url": "http://x", "secret": "s"},
            "secret",
            "TRACKWELL_MY_DEST_SECRET",
        ),
        (
            {"type": "webhook", "url": "http://x", "headers": {}},
            "headers",
            "TRACKWELL_MY_DEST_HEADERS",
        ),
    ],
)
def test_secrets_in_the_file_are_refused(table: dict[str, Any], key: str, variable: str) -> None:
    with pytest.raises(ValueError, match="secret") as error:
        from_settings("my-dest", table, {})
    assert repr(key) in str(error.value) and variable in str(error.value)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"type": "kafka"}, "unknown destination type 'kafka'"),
        ({}, "unknown destination type missing"),
        ({"type": "segment", "regoin": "eu"}, "unknown key(s) regoin"),
        ({"type": "segment", "region": "eu"}, "unknown key(s) region"),
        ({"type": "segment", "types": ["track", "purchase"]}, "unknown message type(s) purchase"),
        (
            {"type": "mixpanel", "mode": "capture", "types": ["alias"]},
            "mixpanel cannot deliver alias",
        ),
        (
            {"type": "customerio", "mode": "capture", "api": "v1", "types": ["group"]},
            "customerio cannot deliver group",
        ),
        ({"type": "segment", "batch_size": 0}, "batch_size must be a positive integer"),
        ({"type": "segment", "timeout": "5s"}, "timeout must be a positive number"),
        ({"type": "segment", "events": "Signed Up"}, "events must be a list of strings"),
        ({"type": "customerio", "region": "apac"}, "region must be one of us, eu"),
        ({"type": "webhook"}, "a webhook needs url"),
        ({"type": "segment", "operations": "yes"}, "operations must be true or false"),
        ({"type": "mixpanel", "operations": True}, "unknown key(s) operations"),
    ],
)
def test_bad_tables_are_refused_with_a_clear_message(table: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError) as error:
        from_settings("dest", table, {})
    assert words in str(error.value)


def test_webhook_url_may_come_from_the_environment() -> None:
    env = {
        "TRACKWELL_HOOK_URL": "https://hooks.example.com/catch/9/tok",
        "TRACKWELL_HOOK_SECRET": "x",
    }
    hook = from_settings("hook", {"type": "webhook"}, env)
    assert isinstance(hook, Webhook) and hook.target_url.endswith("/tok")
    hook.close()


def test_mixpanel_api_secret_from_env() -> None:
    env = {"TRACKWELL_MP_PROJECT_TOKEN": "t", "TRACKWELL_MP_API_SECRET": "s"}
    destination = from_settings("mp", {"type": "mixpanel", "region": "eu"}, env)
    assert isinstance(destination, Mixpanel) and not destination.capture
    assert destination.base_url == "https://api-eu.mixpanel.com"
    destination.close()


def test_a_gateway_that_never_sends_needs_no_credentials() -> None:
    # `serve --no-router` nodes only register the queues; the routers hold the secrets.
    built = from_settings("amp", {"type": "amplitude"}, {}, sending=False)
    assert built.capture  # should anything send through it, it is captured, never delivered
    built.close()
    env = {"TRACKWELL_AMP_API_KEY": "k"}
    assert not from_settings("amp", {"type": "amplitude"}, env, sending=False).capture


def test_a_segment_compatible_table_may_ask_for_operations() -> None:
    table = {"type": "segment", "mode": "capture", "base_url": "https://events.example.com"}
    assert from_settings("s", table, {}).filter.exclude_events  # not performed there
    asked = from_settings("s", {**table, "operations": True}, {})
    assert not asked.filter.exclude_events


def test_the_shared_settings_are_one_value_with_one_timeout_default() -> None:
    """Every kind resolves the same `DestinationSettings`; only the batch size is the tool's."""
    built = build_all(ENV)
    assert built["cio-eu"].settings == DestinationSettings(
        batch_size=50,
        rate_limit=100.0,
        timeout=5.0,
        filter=built["cio-eu"].filter,
        transport=built["cio-eu"].transport,
    )
    assert {d.timeout for name, d in built.items() if name != "cio-eu"} == {DEFAULT_TIMEOUT_SECONDS}
    assert {name: d.batch_size for name, d in built.items()} == {
        "cio-eu": 50,
        "analytics": 1000,
        "amp": 500,
        "cdp": 100,
        "hook": 100,
    }
    for destination in built.values():
        destination.close()


def test_settings_and_keywords_build_the_same_destination() -> None:
    shared = DestinationSettings(batch_size=7, timeout=2.5, capture=True)
    by_value = Mixpanel("m", settings=shared)
    by_keywords = Mixpanel("m", batch_size=7, timeout=2.5, capture=True)
    # Keywords beside `settings` win over it.
    mixed = Mixpanel("m", settings=shared, timeout=1.0)
    assert by_value.describe() == by_keywords.describe()
    assert (by_value.batch_size, by_value.timeout, by_value.capture) == (7, 2.5, True)
    assert (mixed.batch_size, mixed.timeout) == (7, 1.0)
    with pytest.raises(ValueError, match="timeout must be positive"):
        DestinationSettings(timeout=0)
