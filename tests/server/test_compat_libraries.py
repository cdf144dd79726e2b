"""Server-side Segment-shaped client libraries against a real `trackwell serve`.

`@rudderstack/rudder-sdk-node` from npm with its default options (gzip bodies labelled
`application/x-www-form-urlencoded`, the call time as `originalTimestamp` and no `timestamp`),
`@segment/analytics-node` from npm, and `segment-analytics-python` and `rudder-sdk-python` with
their consumer threads each send every call they support. The test checks what the store
holds (types, ids, payloads, action times equal to the call time rather than the arrival time,
the anonymous id tied to the user) and what a Segment-compatible fake tool behind the gateway
received."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rudderstack.analytics import Client as RudderClient
from rudderstack.analytics import request as rudder_request
from rudderstack.analytics.version import VERSION as RUDDER_PYTHON_VERSION
from segment.analytics import Client as SegmentClient
from segment.analytics import request as segment_request
from segment.analytics.version import VERSION as SEGMENT_PYTHON_VERSION

from tests.fakes import FakeSegment
from tests.npm import installed_version, npm_install, run_node
from trackwell.core.messages import parse_time
from trackwell.store.sqlite import SQLiteStore

from ..conftest import EXAMPLE_PLAN
from .conftest import QUICK_KEY, Served, start_gateway

# The script's clock and the gateway's are the same, so the client's stamp is its call time
# within CLOSE_TO_CALL (the time between noting the call and the library's own stamp), and
# Segment's correction, receivedAt - (sentAt - call), adds only the request's transit time.
# Held calls are sent at least HELD after they were made, so arrival time would be far off.
CLOSE_TO_CALL = timedelta(milliseconds=250)
HELD = timedelta(milliseconds=1500)


@dataclass(frozen=True)
class Library:
    """An npm client library and the script that makes every call it supports."""

    group: str
    package: str
    version_range: str
    script: str


# Each script makes the calls below, records when it made each (ms since the epoch, by
# messageId), holds queued calls for HELD before flushing them, and prints a JSON report.
# Call 1 (an anonymous page view) is sent at once by RudderStack's client, which flushes the
# first event it gets; the others wait in the libraries' queues.
_CALLS_JS = """
const config = JSON.parse(process.env.COMPAT_CONFIG);
const { user, anon, old } = config;
const calls = {};
const errors = [];
const done = (name) => (err) => { if (err) errors.push(`${name}: ${err.message || err}`); };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function call(kind, params) {
  const messageId = `${config.prefix}-${kind}`;
  calls[messageId] = Date.now();
  client[kind]({ ...params, messageId }, done(kind));
}
async function main() {
  call('page', { anonymousId: anon, name: 'Pricing', properties: { url: 'https://acme.example/pricing' } });
  await sleep(config.holdMs);
  call('identify', { userId: user, anonymousId: anon,
    traits: { email: `${user}@example.com`, created_at: 1767600000, plan: 'pro' } });
  call('track', { userId: user, event: 'Account Created',
    properties: { plan: 'pro', signup_source: 'referral' } });
  call('screen', { userId: user, name: 'Home', properties: { tab: 'billing' } });
  call('group', { userId: user, groupId: `${config.prefix}-acme`, traits: { name: 'Acme' } });
  await sleep(config.holdMs);
  await FLUSH;
  call('alias', { userId: user, previousId: old });
  await sleep(config.holdMs);
  await CLOSE;
  console.log(JSON.stringify({ calls, errors }));
}
main().catch((err) => { console.error(err); process.exit(1); });
"""

RUDDER = Library(
    "rudder",
    "@rudderstack/rudder-sdk-node",
    "^3",
    # Default options: only where the data plane is (the gateway).
    "const Analytics = require('@rudderstack/rudder-sdk-node');\n"
    "const client = new Analytics(process.env.COMPAT_KEY, { dataPlaneUrl: process.env.COMPAT_URL });\n"
    + _CALLS_JS.replace("FLUSH", "client.flush()").replace("CLOSE", "client.flush()"),
)
SEGMENT_NODE = Library(
    "segment-node",
    "@segment/analytics-node",
    "^3",
    "const { Analytics } = require('@segment/analytics-node');\n"
    "const client = new Analytics({ writeKey: process.env.COMPAT_KEY, host: process.env.COMPAT_URL });\n"
    "client.on('error', (err) => errors.push(`emitted: ${err.reason || err.code || err}`));\n"
    + _CALLS_JS.replace("FLUSH", "client.flush()").replace("CLOSE", "client.closeAndFlush()"),
)
LIBRARIES = {library.group: library for library in (RUDDER, SEGMENT_NODE)}
# The Python libraries: (package, client class, module holding its HTTP session, version).
# rudder-sdk-python is a fork of Segment's with the same calls; it gzips by default.
PYTHON: dict[str, tuple[str, Any, Any, str]] = {
    "segment-python": (
        "segment-analytics-python",
        SegmentClient,
        segment_request,
        SEGMENT_PYTHON_VERSION,
    ),
    "rudder-python": ("rudder-sdk-python", RudderClient, rudder_request, RUDDER_PYTHON_VERSION),
}
KINDS = ("page", "identify", "track", "screen", "group", "alias")


@pytest.fixture(scope="module")
def tool() -> Iterator[FakeSegment]:
    """A Segment-compatible tool the gateway delivers to."""
    with FakeSegment(write_key="tool-write-key") as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, tool: FakeSegment) -> Iterator[Served]:
    """`trackwell serve` with the example plan (plus a planned screen) and the fake tool; each
    library's test uses ids of its own."""
    tmp_path = tmp_path_factory.mktemp("compat")
    plan = tmp_path / "plan.yaml"
    plan.write_text(EXAMPLE_PLAN.read_text().replace("screens: []", "screens: [Home]"))
    (tmp_path / "trackwell.toml").write_text(
        f'[destinations.tool]\ntype = "segment"\nbase_url = "{tool.url}"\n'
    )
    served = start_gateway(
        tmp_path, "--plan", str(plan), env={"TRACKWELL_TOOL_WRITE_KEY": tool.write_key}
    )
    try:
        yield served
    finally:
        served.stop()


def _config(prefix: str) -> dict[str, Any]:
    return {
        "prefix": prefix,
        "user": f"{prefix}-user",
        "anon": f"{prefix}-anon",
        "old": f"{prefix}-old",
        "holdMs": int(HELD.total_seconds() * 1000),
    }


def _run(library: Library, served: Served, prefix: str) -> dict[str, Any]:
    modules = npm_install(library.group, {library.package: library.version_range})
    config = _config(prefix)
    result = run_node(
        modules,
        library.script,
        env={
            "COMPAT_URL": served.url,
            "COMPAT_KEY": QUICK_KEY,
            "COMPAT_CONFIG": json.dumps(config),
        },
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == [], report["errors"]
    report["config"] = config
    report["library"] = f"{library.package} {installed_version(modules, library.package)}"
    return report


def _run_python(group: str, served: Served, prefix: str) -> dict[str, Any]:
    """The same calls through a Python library, its consumer thread holding them."""
    package, client_class, request_module, version = PYTHON[group]
    config = _config(prefix)
    user, anon = config["user"], config["anon"]
    errors: list[str] = []
    # The consumer sends what arrived within `upload_interval` of its last upload: 2 x HELD,
    # so calls made at once are all held at least HELD.
    client = client_class(
        QUICK_KEY,
        host=served.url,
        upload_interval=2 * HELD.total_seconds(),
        on_error=lambda error, batch: errors.append(repr(error)),
    )
    calls: dict[str, int] = {}

    def call(kind: str, send: Any, *args: Any, **kwargs: Any) -> None:
        message_id = f"{prefix}-{kind}"
        calls[message_id] = int(time.time() * 1000)
        send(*args, message_id=message_id, **kwargs)

    try:
        call(
            "page",
            client.page,
            None,
            None,
            "Pricing",
            {"url": "https://acme.example/pricing"},
            anonymous_id=anon,
        )
        traits = {"email": f"{user}@example.com", "created_at": 1767600000, "plan": "pro"}
        call("identify", client.identify, user, traits, anonymous_id=anon)
        call(
            "track",
            client.track,
            user,
            "Account Created",
            {"plan": "pro", "signup_source": "referral"},
        )
        call("screen", client.screen, user, None, "Home", {"tab": "billing"})
        call("group", client.group, user, f"{prefix}-acme", {"name": "Acme"})
        client.flush()
        call("alias", client.alias, config["old"], user)
        client.shutdown()
    finally:
        request_module._session.close()  # the library's module-wide pool
    return {"calls": calls, "errors": errors, "config": config, "library": f"{package} {version}"}


def _wait_for(tool: FakeSegment, ids: set[str], seconds: float = 30) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with tool.lock:
            got = {m["messageId"]: m for m in tool.messages if m.get("messageId") in ids}
        if set(got) == ids:
            return got
        time.sleep(0.1)
    raise AssertionError(f"the tool received {sorted(got)} of {sorted(ids)}")


@pytest.mark.parametrize("group", [*LIBRARIES, *PYTHON])
def test_every_call_reaches_the_store_and_the_tool_at_its_call_time(
    group: str, gateway: Served, tool: FakeSegment
) -> None:
    prefix = f"compat-{group}"
    if group in PYTHON:
        report = _run_python(group, gateway, prefix)
    else:
        report = _run(LIBRARIES[group], gateway, prefix)
    who = report["library"]  # name and installed version, in every failure message
    config, calls = report["config"], report["calls"]
    user, anon = config["user"], config["anon"]
    assert sorted(calls) == sorted(f"{prefix}-{kind}" for kind in KINDS)

    expected: dict[str, dict[str, Any]] = {
        "page": {"anonymousId": anon, "name": "Pricing"},
        "identify": {"userId": user, "anonymousId": anon},
        "track": {"userId": user, "event": "Account Created"},
        "screen": {"userId": user, "name": "Home"},
        "group": {"userId": user, "groupId": f"{prefix}-acme"},
        "alias": {"userId": user, "previousId": config["old"]},
    }
    payloads: dict[str, tuple[str, dict[str, Any]]] = {
        "page": ("properties", {"url": "https://acme.example/pricing"}),
        "identify": ("traits", {"email": f"{user}@example.com", "created_at": 1767600000, "plan": "pro"}),
        "track": ("properties", {"plan": "pro", "signup_source": "referral"}),
        "screen": ("properties", {"tab": "billing"}),
        "group": ("traits", {"name": "Acme"}),
    }  # fmt: skip
    store = SQLiteStore(gateway.store[len("sqlite:///") :])
    try:
        stored: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            message_id = f"{prefix}-{kind}"
            entry = store.get(message_id)
            assert entry is not None, f"{who}: {kind} was not stored"
            message = entry.message
            stored[kind] = message
            assert message["type"] == kind
            for key, value in expected[kind].items():
                assert message.get(key) == value, (who, kind, key, message.get(key))
            if kind in payloads:
                section, values = payloads[kind]
                assert message[section] == values, (who, kind, message[section])
            assert entry.verdict == "accepted", (who, kind, entry.violations)
            codes = [v["code"] for v in entry.violations]
            assert "missing_timestamp" not in codes, (who, kind, entry.violations)
            called = datetime.fromtimestamp(calls[message_id] / 1000, UTC)
            action = parse_time(message["timestamp"], "timestamp")
            received = parse_time(message["receivedAt"], "receivedAt")
            sent = parse_time(message["sentAt"], "sentAt")
            transit = received - sent
            assert abs(action - called - transit) < CLOSE_TO_CALL, (
                who,
                kind,
                action,
                called,
                transit,
            )
            if kind != "page" or group != "rudder":  # RudderStack sends its first call at once
                assert sent - called >= HELD - CLOSE_TO_CALL, (kind, sent, called)
            if group == "rudder":
                # The client's own call time is kept as it was sent.
                original = parse_time(message["originalTimestamp"], "originalTimestamp")
                assert abs(original - called) < CLOSE_TO_CALL
        timeline = store.timeline(user)
        assert anon in timeline.anonymous_ids
        assert f"{prefix}-page" in {e.message["messageId"] for e in timeline.entries}
    finally:
        store.close()

    received_by_tool = _wait_for(tool, {f"{prefix}-{kind}" for kind in KINDS})
    for kind in KINDS:
        forwarded = received_by_tool[f"{prefix}-{kind}"]
        assert forwarded["type"] == kind
        for key, value in expected[kind].items():
            assert forwarded.get(key) == value, (who, kind, key, forwarded.get(key))
        if kind in payloads:
            section, values = payloads[kind]
            assert forwarded[section] == values, (who, kind, forwarded[section])
        # The tool gets the corrected call time, not when the gateway received or sent it.
        assert parse_time(forwarded["timestamp"], "timestamp") == parse_time(
            stored[kind]["timestamp"], "timestamp"
        )
