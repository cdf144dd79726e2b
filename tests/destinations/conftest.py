"""Fixtures: fake API servers on loopback (one per test), TLS files, and destination cleanup."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from customerio import CustomerIO as OfficialClient  # type: ignore[import-untyped]

from tests.fakes import (
    FakeAmplitude,
    FakeCustomerIO,
    FakeMixpanel,
    FakeSegment,
    FakeWebhook,
    TlsFiles,
    make_tls_files,
)
from trackwell.destinations import Destination

D = TypeVar("D", bound=Destination)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    files = make_tls_files(Path(tmp_path_factory.mktemp("tls")))
    if files is None:
        pytest.skip("the openssl CLI is needed to make a test certificate")
    return files


@pytest.fixture
def customerio_fake() -> Iterator[FakeCustomerIO]:
    """Customer.io over plain HTTP."""
    with FakeCustomerIO() as fake:
        yield fake


@pytest.fixture
def customerio_tls_fake(tls_files: TlsFiles) -> Iterator[FakeCustomerIO]:
    """Customer.io over TLS, as the official library insists on."""
    with FakeCustomerIO(tls=tls_files) as fake:
        yield fake


@pytest.fixture
def segment_fake() -> Iterator[FakeSegment]:
    """Segment's HTTP tracking API."""
    with FakeSegment() as fake:
        yield fake


@pytest.fixture
def mixpanel_fake() -> Iterator[FakeMixpanel]:
    """Mixpanel's /import and /engage."""
    with FakeMixpanel() as fake:
        yield fake


@pytest.fixture
def amplitude_fake() -> Iterator[FakeAmplitude]:
    """Amplitude's HTTP V2 API."""
    with FakeAmplitude() as fake:
        yield fake


@pytest.fixture
def webhook_fake() -> Iterator[FakeWebhook]:
    """A receiver that verifies signatures."""
    with FakeWebhook() as fake:
        yield fake


@pytest.fixture
def closing() -> Iterator[Callable[[D], D]]:
    """Register destinations to be closed after the test (their HTTP pools hold sockets)."""
    made: list[Destination] = []

    def register(destination: D) -> D:
        made.append(destination)
        return destination

    yield register
    for destination in made:
        destination.close()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def official(customerio_tls_fake: FakeCustomerIO, tls_files: TlsFiles) -> Iterator[OfficialClient]:
    """Customer.io's Python client, pointed at the fake and trusting its certificate."""
    client = OfficialClient(
        site_id=customerio_tls_fake.site_id,
        api_key=customerio_tls_fake.api_key,
        host="127.0.0.1",
        port=customerio_tls_fake.port,
        retries=0,
    )
    # The session trusts only the fake's certificate; with trust_env, requests would let a
    # REQUESTS_CA_BUNDLE in the environment override it.
    client.http.trust_env = False
    client.http.verify = str(tls_files.cert)
    yield client
    client.close()
