"""A real `trackwell serve`: official Segment and Customer.io clients, signals, the banner, demo."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from customerio import CustomerIO
from segment.analytics import Client as SegmentClient
from segment.analytics import request as segment_request
from typer.testing import CliRunner

from tests.fakes import make_tls_files
from trackwell.cli import app
from trackwell.store.sqlite import SQLiteStore

from .conftest import EXAMPLE_PLAN, QUICK_KEY, TRACK, Served, start_gateway


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    """A gateway over HTTPS with a self-signed certificate made by the openssl CLI."""
    folder = tmp_path_factory.mktemp("tls")
    tls = make_tls_files(folder)
    if tls is None:
        pytest.skip(
            "the openssl command is not installed: cannot make a certificate for the Customer.io client (HTTPS only)"
        )
    cert, key = tls.cert, tls.key
    served = start_gateway(folder, "--tls-cert", str(cert), "--tls-key", str(key), scheme="https")
    try:
        yield served, cert
    finally:
        served.stop()


def _store(served: Served) -> SQLiteStore:
    return SQLiteStore(served.store[len("sqlite:///") :])


def test_the_official_segment_client_sends_every_call(
    tls_gateway: tuple[Served, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    served, cert = tls_gateway
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    errors: list[Exception] = []
    client = SegmentClient(
        QUICK_KEY,
        host=served.url,
        sync_mode=True,
        gzip=True,
        on_error=lambda e, batch: errors.append(e),
    )
    at = datetime(2026, 1, 5, 10, tzinfo=UTC)
    client.identify(
        "seg-1",
        {"email": "seg1@example.com", "created_at": 1767600000},
        anonymous_id="anon-seg",
        message_id="s-identify",
        timestamp=at,
    )
    client.track(
        "seg-1",
        "Account Created",
        {"plan": "pro", "signup_source": "referral"},
        message_id="s-track",
        timestamp=at,
    )
    client.page(
        "seg-1",
        name="Pricing",
        properties={"url": "https://acme.example/pricing"},
        message_id="s-page",
        timestamp=at,
    )
    client.screen("seg-1", name="Home", message_id="s-screen", timestamp=at)
    client.group("seg-1", "acme", {"name": "Acme"}, message_id="s-group", timestamp=at)
    client.alias("anon-old", "seg-1", message_id="s-alias", timestamp=at)
    client.track("seg-1", "Acount Created", {"plan": "pro"}, message_id="s-typo", timestamp=at)
    client.flush()
    segment_request._session.close()  # its pooled TLS connection would hold up the shutdown
    assert errors == []
    store = _store(served)
    try:
        for kind in ("identify", "track", "page", "screen", "group", "alias"):
            entry = store.get(f"s-{kind}")
            assert entry is not None and entry.message["type"] == kind, kind
        assert store.get("s-track").verdict == "accepted"  # type: ignore[union-attr]
        typo = store.get("s-typo")
        assert typo is not None and typo.verdict == "blocked"
        assert typo.violations[0]["suggestion"] == "Account Created"
        assert "anon-seg" in store.timeline("seg-1").anonymous_ids
    finally:
        store.close()


def test_the_official_customerio_client_sends_every_call(
    tls_gateway: tuple[Served, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    served, cert = tls_gateway
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    port = int(served.url.rsplit(":", 1)[1])
    cio = CustomerIO("default", QUICK_KEY, host="127.0.0.1", port=port, retries=0)
    cio.identify("cio-1", email="cio1@example.com", created_at=1767600000, plan="pro")
    cio.track(
        "cio-1",
        "Email Verified",
        {"verification_method": "link"},
        id="01HV00000000000000000000C1",
        timestamp=1767600100,
    )
    cio.track_anonymous(
        "anon-cio", "Page Viewed", {"page_name": "Pricing"}, id="01HV00000000000000000000C2"
    )
    cio.pageview("cio-1", "Pricing", referrer="https://google.com")
    cio.backfill("cio-1", "Invite Sent", 1767600200, invitee_role="member", invite_method="email")
    cio.add_device("cio-1", "token-1", "ios", last_used=1767600300)
    cio.delete_device("cio-1", "token-1")
    cio.suppress("cio-1")
    cio.unsuppress("cio-1")
    cio.merge_customers("id", "cio-1", "id", "cio-old")
    cio.batch(
        [
            {
                "type": "person",
                "identifiers": {"id": "cio-2"},
                "action": "event",
                "name": "Feature Used",
                "attributes": {"feature_name": "reports"},
            }
        ]
    )
    store = _store(served)
    try:
        seen = {
            (e.message.get("type"), e.message.get("event") or e.message.get("name"))
            for e in store.timeline("cio-1").entries
        }
        for expected in [("identify", None), ("track", "Email Verified"), ("page", "Pricing"), ("track", "Invite Sent"),
                         ("track", "Device Created or Updated"), ("track", "Device Deleted"),
                         ("alias", None)]:  # fmt: skip
            assert expected in seen, expected
        # Suppress, unsuppress and delete are privacy requests, never messages in the log.
        assert not {name for _, name in seen} & {"User Suppressed", "User Unsuppressed"}
        verified = store.get("01HV00000000000000000000C1")
        assert verified is not None and verified.verdict == "accepted"
        assert store.get("01HV00000000000000000000C2") is not None
        assert any(
            e.message.get("event") == "Feature Used" for e in store.timeline("cio-2").entries
        )
        cio.delete("cio-1")
        assert (
            store.timeline("cio-1").entries == ()
            and store.get("01HV00000000000000000000C1") is None
        )
        assert [r.kind for r in store.privacy_requests()] == ["erase", "unsuppress", "suppress"]
    finally:
        cio.close()
        store.close()


def test_sighup_reloads_the_plan_without_dropping_requests(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    text = EXAMPLE_PLAN.read_text()
    plan.write_text(text)
    served = start_gateway(tmp_path, "--plan", str(plan), "--no-watch-plan")
    stop = threading.Event()
    failures: list[int] = []

    def keep_sending() -> None:
        with httpx.Client(auth=(QUICK_KEY, "")) as client:
            n = 0
            while not stop.is_set():
                n += 1
                status = client.post(
                    f"{served.url}/v1/track", json={**TRACK, "messageId": f"load-{n}"}
                ).status_code
                if status != 200:
                    failures.append(status)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        plan.write_text(
            text.replace("version: 3", "version: 4").replace(
                "pages: [Pricing,", "pages: [Careers, Pricing,"
            )
        )
        served.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        verdict = None
        while time.monotonic() < deadline:
            answer = httpx.post(
                f"{served.url}/v1/page",
                json={"anonymousId": "a", "name": "Careers"},
                auth=(QUICK_KEY, ""),
            ).json()
            verdict = "accepted" if answer["accepted"] else "blocked"
            if verdict == "accepted":
                break
            time.sleep(0.1)
        assert verdict == "accepted"
        assert served.process.poll() is None
    finally:
        stop.set()
        sender.join()
        assert served.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM once it is done
    assert failures == []
    assert '"plan reloaded"' in served.logs()
    store = _store(served)
    try:
        [reload] = store.audit_entries(action="plan_reloaded")
        assert (reload.actor, reload.target) == ("gateway", "4")
        assert reload.detail["trigger"] == "sighup" and reload.detail["previous_version"] == "3"
    finally:
        store.close()


def test_sigterm_finishes_the_request_in_flight_and_flushes(tmp_path: Path) -> None:
    served = start_gateway(tmp_path)
    batch = [{**TRACK, "messageId": f"term-{i}"} for i in range(500)]
    import orjson

    body = orjson.dumps({"batch": batch})
    answers: list[httpx.Response] = []

    def slow_body() -> Iterator[bytes]:
        yield body[:100]
        served.process.send_signal(signal.SIGTERM)  # the request is in flight now
        time.sleep(0.5)
        yield body[100:]

    def send() -> None:
        answers.append(httpx.post(f"{served.url}/v1/batch", content=slow_body(), auth=(QUICK_KEY, ""),
                                  headers={"Content-Type": "application/json"}, timeout=20))  # fmt: skip

    sender = threading.Thread(target=send)
    sender.start()
    sender.join(30)
    assert served.process.wait(20) in (0, -signal.SIGTERM)
    assert '"gateway stopped"' in served.logs()
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()["accepted"] == 500
    store = _store(served)
    try:
        assert store.count() == 500
    finally:
        store.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{served.url}/healthz")


def test_the_banner_curl_line_sends_an_event_and_demo_sends_a_day(served: Served) -> None:
    time.sleep(0.2)
    banner = (served.folder / "serve.out").read_text()
    assert served.url in banner and QUICK_KEY in banner
    curl = next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl "))
    result = subprocess.run(
        curl, shell=True, capture_output=True, text=True, check=True, timeout=10
    )
    assert '"accepted":1' in result.stdout
    demo = CliRunner().invoke(
        app,
        [
            "demo",
            "--url",
            served.url,
            "--write-key",
            QUICK_KEY,
            "--users",
            "40",
            "--json",
            "--plan",
            str(EXAMPLE_PLAN),
        ],
    )
    assert demo.exit_code == 0, demo.output
    assert '"blocked"' in demo.stdout and '"unplanned_event"' in demo.stdout


def test_two_workers_serve_and_stop(tmp_path: Path) -> None:
    served = start_gateway(tmp_path, "--workers", "2")
    try:
        for n in range(20):
            answer = httpx.post(
                f"{served.url}/v1/track",
                json={**TRACK, "messageId": f"w-{n}"},
                auth=(QUICK_KEY, ""),
            )
            assert answer.status_code == 200
    finally:
        assert served.stop() in (0, -signal.SIGTERM)
    store = _store(served)
    try:
        assert store.count() == 20
    finally:
        store.close()
