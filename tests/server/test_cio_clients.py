"""The real Customer.io client libraries (Python `customerio`, npm `customerio-node`) against a
running gateway whose destinations are a fake Customer.io (v1 and v2): every call each library
supports, delivery metrics included, checked in the store and in what the fake Customer.io
received."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest
from customerio import CustomerIO  # type: ignore[import-untyped]

from tests.fakes import FakeCustomerIO, make_tls_files
from tests.npm import installed_version, npm_install, run_node
from trackwell.core.operations import (
    DELIVERY_METRIC,
    DEVICE_DELETED,
    DEVICE_UPDATED,
    USER_DELETED,
    USER_SUPPRESSED,
    USER_UNSUPPRESSED,
)
from trackwell.store.sqlite import SQLiteStore

from .conftest import QUICK_KEY, Served, start_gateway

TOKEN = "dY3k:APA91bF-9fGxk2e7w0QmNnQm1Zr8sZkz9uVvXk"  # an FCM-shaped push token
DELIVERY_SECONDS = 60
ACME = {"object_type_id": "1", "object_id": "acme"}
GLOBEX = {"object_type_id": "1", "object_id": "globex"}


@dataclass
class Setup:
    """A TLS gateway delivering to two fake Customer.io workspaces (v1 and v2 mode)."""

    served: Served
    cert: Path
    v1: FakeCustomerIO
    v2: FakeCustomerIO

    @property
    def port(self) -> int:
        return int(self.served.url.rsplit(":", 1)[1])

    def store(self) -> SQLiteStore:
        return SQLiteStore(self.served.store[len("sqlite:///") :])


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    tls = make_tls_files(tmp_path)
    if tls is None:
        pytest.skip(
            "the openssl command is needed for a certificate (the Python client is HTTPS only)"
        )
    cert, key = tls.cert, tls.key
    with FakeCustomerIO("site-v1", "key-v1") as v1, FakeCustomerIO("site-v2", "key-v2") as v2:
        (tmp_path / "trackwell.toml").write_text(
            f'[destinations.cio1]\ntype = "customerio"\nmode = "v1"\nbase_url = "{v1.url}"\n\n'
            f'[destinations.cio2]\ntype = "customerio"\nmode = "v2"\nbase_url = "{v2.url}"\n'
        )
        env = {
            "TRACKWELL_CIO1_SITE_ID": v1.site_id,
            "TRACKWELL_CIO1_API_KEY": v1.api_key,
            "TRACKWELL_CIO2_SITE_ID": v2.site_id,
            "TRACKWELL_CIO2_API_KEY": v2.api_key,
        }
        served = start_gateway(
            tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), scheme="https", env=env
        )
        try:
            yield Setup(served, cert, v1, v2)
        finally:
            served.stop()


def eventually(condition: Callable[[], bool], what: str, setup: Setup) -> None:
    deadline = time.monotonic() + DELIVERY_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(
        f"not delivered within {DELIVERY_SECONDS} s: {what}\n{setup.served.logs()[-3000:]}"
    )


def events_of(store: SQLiteStore, person: str) -> dict[str, str]:
    """Event name (or type) -> verdict, for one person's timeline."""
    return {
        str(e.message.get("event") or e.message.get("name") or e.message["type"]): e.verdict
        for e in store.timeline(person).entries
    }


def check_effects(setup: Setup, people: dict[str, str]) -> None:
    """The store and both fake workspaces after the same sequence of calls from a library.

    `people`: role -> id: `kept` (identified, related to acme, with a device kept), `gone`
    (deleted), `hidden` (suppressed), `back` (suppressed, then unsuppressed), `old` (merged)."""
    kept, gone, hidden, back = people["kept"], people["gone"], people["hidden"], people["back"]
    merge = {"primary": {"id": kept}, "secondary": {"id": people["old"]}}
    for fake in (setup.v1, setup.v2):
        # The unsuppress is the last of these calls; one request each in v1, so wait for it too.
        settled = lambda f=fake: (  # noqa: E731
            gone in f.deleted and hidden in f.suppressed and back in f.deleted
            and back not in f.suppressed
        )  # fmt: skip
        eventually(settled, "deletes and suppressions", setup)
        eventually(lambda f=fake: TOKEN in f.devices.get(kept, {}), "the device", setup)  # type: ignore[misc]
        assert back not in fake.suppressed and back in fake.deleted
        assert set(fake.devices[kept]) == {TOKEN}  # the second device was added, then deleted
        device = fake.devices[kept][TOKEN]
        assert device["platform"] == "ios" and device["last_used"] == 1767600300
        assert fake.people[kept]["email"] == f"{kept}@example.com"
        assert [e["name"] for e in fake.events if e["person"] == kept] == [
            "Account Created",
            "Pricing",
        ]
        assert any(e["anonymous_id"] == people["anonymous"] for e in fake.events)
        eventually(lambda f=fake: merge in f.merges, "the merge", setup)  # type: ignore[misc]
    eventually(lambda: "1:acme" in setup.v2.objects, "the relationship", setup)
    assert {"id": kept} in setup.v2.objects["1:acme"]["members"]
    sent = json.dumps([r.body.decode() for f in (setup.v1, setup.v2) for r in f.requests])
    assert "redacted" not in sent
    store = setup.store()
    try:
        timeline = events_of(store, kept)
        for name in (
            "identify",
            "Account Created",
            "Pricing",
            "group",
            DEVICE_UPDATED,
            DEVICE_DELETED,
        ):
            assert timeline.get(name) == "accepted", (name, timeline)
        # Deletes and suppressions are privacy requests, not messages: the deleted person is
        # erased, and every request has a receipt from both workspaces.
        assert store.timeline(gone).entries == () and store.profile(gone) is None
        for person in (gone, hidden, back):
            assert USER_DELETED not in events_of(store, person)
            assert USER_SUPPRESSED not in events_of(store, person)
            assert USER_UNSUPPRESSED not in events_of(store, person)
        made = store.privacy_requests()
        assert {r.kind for r in made} == {"erase", "suppress", "unsuppress"}
        for request in made:
            assert {r.destination for r in request.receipts} == {"cio1", "cio2"}
            assert request.actor.startswith("key:")
        assert store.count_blocked() == 0
    finally:
        store.close()


def metrics_of(store: SQLiteStore, delivery_id: str) -> list[tuple[str, str]]:
    """(metric, verdict) of the delivery metrics stored for one delivery."""
    return [
        (str(e.message["properties"]["metric"]), e.verdict)
        for e in store.timeline(f"cio_delivery:{delivery_id}").entries
        if e.message.get("event") == DELIVERY_METRIC
    ]


def check_metrics(setup: Setup, push: str | None, clicked: str | None, v2_push: str) -> None:
    """Delivery metrics stored (accepted, nothing blocked) and reported to both workspaces.

    `push`: a push `opened` (with the device token, timestamped now); `clicked`: an email
    `clicked` with its link; `v2_push`: a v2 `delivery` operation `delivered` (no time).
    The v1 workspace gets each on `/api/v1/metrics`; the v2 workspace gets the push metrics
    as v2 `delivery` operations (sent at once, so arrival is their time) and the click, which
    the v2 form cannot carry, on `/api/v1/metrics`."""
    store = setup.store()
    try:
        for delivery_id, name in ((push, "opened"), (clicked, "clicked"), (v2_push, "delivered")):
            if delivery_id is not None:
                assert metrics_of(store, delivery_id) == [(name, "accepted")]
        assert store.count_blocked() == 0
    finally:
        store.close()
    pushes = [(d, m) for d, m in ((push, "opened"), (v2_push, "delivered")) if d is not None]
    wanted = {d for d in (push, clicked, v2_push) if d is not None}
    for fake in (setup.v1, setup.v2):

        def arrived(f: FakeCustomerIO = fake) -> bool:
            return wanted <= {m["delivery_id"] for m in f.metrics}

        eventually(arrived, "the delivery metrics", setup)
    by_id = {m["delivery_id"]: m for m in setup.v1.metrics}
    for delivery_id, name in pushes:
        sent = by_id[delivery_id]
        assert (sent["api"], sent["metric"], sent["recipient"]) == ("v1", name, TOKEN)
        assert isinstance(sent["timestamp"], int)
        assert {"delivery_id": delivery_id, "metric": name, "device_token": TOKEN,
                "api": "v2"} in setup.v2.metrics  # fmt: skip
    if clicked is not None:
        for fake in (setup.v1, setup.v2):
            [click] = [m for m in fake.metrics if m["delivery_id"] == clicked]
            assert click["api"] == "v1" and click["metric"] == "clicked"
            assert click["href"] == "https://example.com/pricing"
            assert click["timestamp"] == 1767600600 and click["recipient"].endswith("@example.com")


def test_the_python_customerio_library(setup: Setup) -> None:
    people = {"kept": "py-1", "gone": "py-2", "hidden": "py-3", "back": "py-4", "old": "py-0",
              "anonymous": "anon-py"}  # fmt: skip
    cio = CustomerIO("default", QUICK_KEY, host="127.0.0.1", port=setup.port, retries=0)
    cio.http.trust_env = False
    cio.http.verify = str(setup.cert)
    try:
        cio.identify(
            "py-1",
            email="py-1@example.com",
            created_at=1767600000,
            cio_relationships={
                "action": "add_relationships",
                "relationships": [{"identifiers": ACME}, {"identifiers": GLOBEX}],
            },
        )
        # v2 through the library: the relationship to globex removed again.
        cio.batch([{"type": "person", "identifiers": {"id": "py-1"},
                    "action": "delete_relationships",
                    "cio_relationships": [{"identifiers": GLOBEX}]}])  # fmt: skip
        cio.track("py-1", "Account Created", {"plan": "pro", "signup_source": "organic"},
                  id="01HV00000000000000000000P1", timestamp=1767600100)  # fmt: skip
        cio.track_anonymous("anon-py", "Page Viewed", {"page_name": "Pricing"})
        cio.pageview("py-1", "Pricing")
        cio.add_device("py-1", TOKEN, "ios", last_used=1767600300)
        cio.add_device("py-1", "second-token", "ios")
        cio.delete_device("py-1", "second-token")
        for person in ("py-2", "py-3", "py-4"):
            cio.identify(person, email=f"{person}@example.com", created_at=1767600000)
        cio.delete("py-2")
        cio.suppress("py-3")
        cio.suppress("py-4")
        cio.unsuppress("py-4")
        cio.merge_customers("id", "py-1", "id", "py-0")
        # The library has no metric call; its v2 batch reports a push metric.
        cio.batch([{"type": "delivery", "action": "event", "identifiers": {"id": "dlv-py-v2"},
                    "name": "delivered", "attributes": {"device_token": TOKEN}}])  # fmt: skip
    finally:
        cio.close()
    check_effects(setup, people)
    check_metrics(setup, None, None, "dlv-py-v2")
    removed = ("py-1", GLOBEX)
    eventually(lambda: removed in setup.v2.relationships_deleted, "the removal", setup)


NODE_SCRIPT = """
const { TrackClient } = require('customerio-node');
const cio = new TrackClient('default', process.env.KEY, { url: process.env.URL + '/api/v1' });
const acme = { object_type_id: '1', object_id: 'acme' };
(async () => {
  await cio.identify('js-1', { email: 'js-1@example.com', created_at: 1767600000 });
  await cio.batch([{ type: 'person', identifiers: { id: 'js-1' }, action: 'add_relationships',
                     cio_relationships: [{ identifiers: acme }] }]);
  await cio.track('js-1', { name: 'Account Created', id: '01HV00000000000000000000J1',
                            data: { plan: 'pro', signup_source: 'organic' } });
  await cio.trackAnonymous('anon-js', { name: 'Page Viewed', data: { page_name: 'Pricing' } });
  await cio.trackPageView('js-1', 'Pricing');
  await cio.addDevice('js-1', process.env.TOKEN, 'ios', { last_used: 1767600300 });
  await cio.entity({ type: 'person', identifiers: { id: 'js-1' }, action: 'add_device',
                     device: { token: 'second-token', platform: 'ios' } });
  await cio.deleteDevice('js-1', 'second-token');
  for (const person of ['js-2', 'js-3', 'js-4']) {
    await cio.identify(person, { email: person + '@example.com', created_at: 1767600000 });
  }
  await cio.destroy('js-2');
  await cio.suppress('js-3');
  await cio.batch([{ type: 'person', identifiers: { id: 'js-4' }, action: 'suppress' },
                   { type: 'person', identifiers: { id: 'js-4' }, action: 'unsuppress' }]);
  await cio.mergeCustomers('id', 'js-1', 'id', 'js-0');
  await cio.trackPush({ delivery_id: 'dlv-js-push', event: 'opened', device_id: process.env.TOKEN,
                        timestamp: Math.floor(Date.now() / 1000) });
  await cio.reportMetric({ delivery_id: 'dlv-js-mail', metric: 'clicked', timestamp: 1767600600,
                           recipient: 'js-1@example.com', href: 'https://example.com/pricing' });
  await cio.entity({ type: 'delivery', action: 'event', identifiers: { id: 'dlv-js-v2' },
                     name: 'delivered', attributes: { device_token: process.env.TOKEN } });
  console.log('sent');
})().catch((error) => { console.error(String(error)); process.exit(1); });
"""


def test_the_node_customerio_library(setup: Setup) -> None:
    modules = npm_install("customerio-node", {"customerio-node": "^5.2.0"})
    env = {"URL": setup.served.url, "KEY": QUICK_KEY, "TOKEN": TOKEN,
           "NODE_EXTRA_CA_CERTS": str(setup.cert)}  # fmt: skip
    result = run_node(modules, NODE_SCRIPT, env=env)
    assert result.returncode == 0 and "sent" in result.stdout, result.stderr
    people = {"kept": "js-1", "gone": "js-2", "hidden": "js-3", "back": "js-4", "old": "js-0",
              "anonymous": "anon-js"}  # fmt: skip
    check_effects(setup, people)
    check_metrics(setup, "dlv-js-push", "dlv-js-mail", "dlv-js-v2")
    assert installed_version(modules, "customerio-node").startswith("5.")
    assert version("customerio").split(".")[0] in ("2", "3")
