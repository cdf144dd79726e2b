"""Building destinations from trackwell.toml tables, with secrets only from the environment."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from trackwell.destinations import Amplitude, CustomerIO, Mixpanel, SegmentCompatible, Webhook
from trackwell.destinations.common import HttpDestination
from trackwell.destinations.registry import KINDS, env_var, from_settings
from trackwell.operations import OBJECT_OPERATIONS

CONFIG = """
[destinations.cio-eu]
type = "customerio"
region = "eu"
mode = "v1"
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
    assert (cio.name, cio.region, cio.mode, cio.base_url) == (
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


def test_missing_credentials_mean_capture_mode() -> None:
    built = build_all({})
    assert all(d.capture for d in built.values())
    assert all(d.describe()["capture"] is True for d in built.values())
    partial = from_settings("cio", {"type": "customerio"}, {"TRACKWELL_CIO_SITE_ID": "s"})
    assert isinstance(partial, HttpDestination) and partial.capture


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
        ({"type": "mixpanel", "types": ["alias"]}, "mixpanel cannot deliver alias"),
        (
            {"type": "customerio", "mode": "v1", "types": ["group"]},
            "customerio cannot deliver group",
        ),
        ({"type": "segment", "batch_size": 0}, "batch_size must be a positive integer"),
        ({"type": "segment", "timeout": "5s"}, "timeout must be a positive number"),
        ({"type": "segment", "events": "Signed Up"}, "events must be a list of strings"),
        ({"type": "customerio", "region": "apac"}, "region must be one of us, eu"),
        ({"type": "webhook"}, "a webhook needs url"),
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
