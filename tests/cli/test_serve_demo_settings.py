"""What `serve --demo` changes in the gateway's settings, and what it leaves alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PLAN
from trackwell.cli.demo_customerio import DEMO_WEBHOOK_KEY
from trackwell.cli.serve import DEMO_DESTINATION, _demo_customerio
from trackwell.io.config import Settings
from trackwell.monitor.settings import WORKFLOW_MONITOR
from trackwell.server.settings import GatewaySettings
from trackwell.server.webhook_keys import CUSTOMERIO_KEY_ENV


@pytest.fixture
def gateway_settings(tmp_path: Path) -> GatewaySettings:
    """A routing gateway's settings on the example plan, before demo mode."""
    return GatewaySettings(plan=EXAMPLE_PLAN, store=f"sqlite:///{tmp_path / 'g.db'}", router=True)


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts without a webhook key, and the one demo mode sets in the environment
    goes afterwards (setting it first makes monkeypatch restore the variable's absence)."""
    monkeypatch.setenv(CUSTOMERIO_KEY_ENV, "")
    monkeypatch.delenv(CUSTOMERIO_KEY_ENV)
    yield


def test_demo_mode_adds_the_stand_in_its_key_and_its_campaigns(
    gateway_settings: GatewaySettings,
) -> None:
    settings = Settings(EXAMPLE_PLAN, "x", workflows={"Welcome email": ("7",)})
    demo = _demo_customerio(settings, gateway_settings, "http://127.0.0.1:1")
    assert demo is not None
    try:
        [destination] = gateway_settings.destinations
        assert destination.name == DEMO_DESTINATION
        assert gateway_settings.destination_tables[DEMO_DESTINATION]["base_url"] == demo.url
        assert gateway_settings.webhook_keys.customerio == (DEMO_WEBHOOK_KEY,)
        assert demo.webhook_key == DEMO_WEBHOOK_KEY
        campaigns = gateway_settings.monitors[WORKFLOW_MONITOR]["campaigns"]
        assert campaigns["Welcome email"] == ["7"]  # [workflows] wins, and the stand-in uses it
        assert campaigns["Onboarding drip"] == ["1"]
        assert {w.name: w.campaign_id for w in demo.workflows}["Welcome email"] == 7
    finally:
        demo.stop()


def test_a_real_key_is_kept_and_the_stand_in_signs_with_the_newest(
    gateway_settings: GatewaySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CUSTOMERIO_KEY_ENV, "old-key,new-key")
    demo = _demo_customerio(Settings(EXAMPLE_PLAN, "x"), gateway_settings, "http://127.0.0.1:1")
    assert demo is not None
    demo.stop()
    assert gateway_settings.webhook_keys.customerio == ("old-key", "new-key")
    assert demo.webhook_key == "new-key"


def test_a_configured_customerio_or_a_gateway_that_does_not_route_gets_no_stand_in(
    gateway_settings: GatewaySettings,
) -> None:
    configured = Settings(
        EXAMPLE_PLAN, "x", destinations={DEMO_DESTINATION: {"type": "customerio"}}
    )
    assert _demo_customerio(configured, gateway_settings, "http://127.0.0.1:1") is None
    gateway_settings.router = False
    assert (
        _demo_customerio(Settings(EXAMPLE_PLAN, "x"), gateway_settings, "http://127.0.0.1:1")
        is None
    )
    assert not gateway_settings.destinations and gateway_settings.webhook_keys.customerio == ()
