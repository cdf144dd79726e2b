"""Health, readiness, metrics, the OpenAPI document, the snippet, and plan reloads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.routing import Route

from trackwell.cli import serve as serve_cli
from trackwell.console.auth import hash_token
from trackwell.io.config import load_settings
from trackwell.server import backlog, ops, settings
from trackwell.server.app import ConsoleMount, create_app

from .conftest import EXAMPLE_PLAN, SERVER_KEY, TRACK, harness

pytestmark = pytest.mark.anyio


async def test_health_and_readiness(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        assert (await h.client.get("/healthz")).json()["status"] == "ok"
        ready = await h.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["plan"] == {"name": "Acme Projects", "version": 3}


async def test_metrics_count_messages_by_source_event_and_verdict(tmp_path: Path) -> None:
    batch = [
        {**TRACK, "messageId": "m1"},
        {**TRACK, "messageId": "m2", "event": "Totally Random 123"},
    ]
    async with harness(tmp_path) as h:
        await h.client.post("/v1/batch", json={"batch": batch}, auth=(SERVER_KEY, ""))
        text = (await h.client.get("/metrics")).text
        assert (
            'trackwell_messages_total{event="Account Created",source="backend",verdict="accepted"} 1.0'
            in text
        )
        assert 'event="(unplanned)",source="backend",verdict="blocked"' in text
        assert "Totally Random" not in text  # unplanned names never become labels
        assert 'trackwell_violations_total{code="unplanned_event"} 1.0' in text
        assert 'trackwell_http_requests_total{route="/v1/batch",status="200"} 1.0' in text
        assert "trackwell_store_messages_total 2.0" in text
        assert 'trackwell_plan_info{name="Acme Projects",version="3"} 1.0' in text


async def test_metrics_behind_a_bearer_token_when_one_is_set(tmp_path: Path) -> None:
    token_hash = ops.metrics_token_hash({"TRACKWELL_METRICS_TOKEN": "scrape-s3cret"})
    assert token_hash is not None and "scrape-s3cret" not in token_hash
    assert ops.metrics_token_hash({}) is None  # unset: open, as Prometheus endpoints usually are
    async with harness(tmp_path, metrics_token_hash=token_hash) as h:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Bearer "},
            {"Authorization": "Basic c2NyYXBlLXMzY3JldDo="},  # the right secret, wrong scheme
        ):
            refused = await h.client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
            assert "trackwell_" not in refused.text and "scrape-s3cret" not in refused.text
        allowed = await h.client.get("/metrics", headers={"Authorization": "Bearer scrape-s3cret"})
        assert allowed.status_code == 200 and "trackwell_plan_info" in allowed.text
        # Only /metrics is guarded: health checks stay open for the load balancer.
        assert (await h.client.get("/healthz")).status_code == 200


def test_serve_reads_the_metrics_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_settings(
        config=None, plan=EXAMPLE_PLAN, store=f"sqlite:///{tmp_path / 'm.db'}", environ={}
    )
    monkeypatch.delenv("TRACKWELL_METRICS_TOKEN", raising=False)
    assert serve_cli._gateway_settings(loaded, None, False, 10).metrics_token_hash is None
    monkeypatch.setenv("TRACKWELL_METRICS_TOKEN", "from-env")
    built = serve_cli._gateway_settings(loaded, None, False, 10)
    assert built.metrics_token_hash == hash_token("from-env")


async def test_the_openapi_document_describes_every_route(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        document = (await h.client.get("/openapi.json")).json()
        app = create_app(h.gateway)
    described = {path.replace("{id}", "{rest:path}") for path in document["paths"]}
    for route in app.routes:
        if isinstance(route, ConsoleMount):
            continue  # the web console: pages for people, not part of the API
        assert isinstance(route, Route)
        assert route.path in described or route.path == "/api/v1/customers/{rest:path}", route.path
    for path, item in document["paths"].items():
        for operation in item.values():
            assert "200" in operation["responses"], path


async def test_the_snippet_carries_the_plan_and_is_cacheable(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        response = await h.client.get("/trackwell.js")
        assert response.headers["content-type"].startswith("application/javascript")
        assert '"pages":["Pricing","Integrations","Help Center"]' in response.text
        assert "tw_anon_id" in response.text and "sendBeacon" in response.text
        again = await h.client.get(
            "/trackwell.js", headers={"If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304


async def test_a_changed_plan_file_is_reloaded_and_a_broken_one_ignored(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    text = EXAMPLE_PLAN.read_text()
    plan.write_text(text)
    new_event = {**TRACK, "event": "Report Exported", "properties": {"format": "csv"}}
    async with harness(tmp_path, plan=plan, plan_watch_seconds=0.05) as h:
        before = await h.client.post("/v1/track", json=new_event, auth=(SERVER_KEY, ""))
        assert before.json()["blocked"] == 1
        plan.write_text(
            text.replace("version: 3", "version: 4").replace(
                "\npages:",
                "\n  Report Exported:\n    stage: Engagement\n    description: A report was exported.\n"
                "    properties:\n      format: {type: string, required: true}\n\npages:",
            )
        )
        for _ in range(100):
            if h.gateway.plan.plan.version == 4:
                break
            await asyncio.sleep(0.02)
        assert h.gateway.plan.plan.version == 4
        after = await h.client.post("/v1/track", json=new_event, auth=(SERVER_KEY, ""))
        assert after.json()["accepted"] == 1
        plan.write_text("trackwell: 1\nname: [broken")
        await asyncio.sleep(0.2)
        assert h.gateway.plan.plan.version == 4  # the plan in force stays
        assert h.gateway.plan.failed_reloads == 1


def test_the_cli_defaults_match_the_server() -> None:
    assert serve_cli.DEFAULT_HOST == settings.DEFAULT_HOST
    assert serve_cli.DEFAULT_PORT == settings.DEFAULT_PORT
    assert serve_cli.DEFAULT_HIGH_WATER == backlog.DEFAULT_HIGH_WATER


def test_the_snippet_ships_inside_the_package() -> None:
    from importlib import resources

    assert resources.files("trackwell.server").joinpath("static/trackwell.js").is_file()


async def test_metrics_count_captured_apart_from_delivered(tmp_path: Path) -> None:
    from trackwell.destinations import Webhook

    dev = Webhook("dev", url="https://hooks.example.com/in", capture=True)
    async with harness(tmp_path, destinations=[dev], backlog_poll_seconds=0.05) as h:
        await h.client.post("/v1/batch", json={"batch": [TRACK]}, auth=(SERVER_KEY, ""))
        text = ""
        for _ in range(100):
            text = (await h.client.get("/metrics")).text
            if 'trackwell_captured_messages{destination="dev"} 1.0' in text:
                break
            await asyncio.sleep(0.05)
        assert 'trackwell_captured_messages{destination="dev"} 1.0' in text
        assert 'trackwell_deliveries_total{destination="dev",result="captured"} 1.0' in text
        assert 'trackwell_deliveries_total{destination="dev",result="delivered"} 0.0' in text
        assert 'trackwell_delivery_latency_seconds{destination="dev"' not in text


async def test_metrics_count_consent_outcomes_and_the_gateway_follows_the_plans_policy(
    tmp_path: Path,
) -> None:
    from trackwell.destinations import Webhook

    plan = tmp_path / "tracking-plan.yaml"
    plan.write_text(
        EXAMPLE_PLAN.read_text().replace(
            "policy:\n", "policy:\n  consent:\n    missing_consent: drop\n", 1
        )
    )
    crm = Webhook("crm", url="https://hooks.example.com/in", capture=True, consent=("ads",))
    async with harness(tmp_path, plan=plan, destinations=[crm], backlog_poll_seconds=0.05) as h:
        await h.client.post("/v1/batch", json={"batch": [TRACK]}, auth=(SERVER_KEY, ""))
        text = ""
        for _ in range(100):
            text = (await h.client.get("/metrics")).text
            if 'trackwell_no_consent_messages{destination="crm"} 1.0' in text:
                break
            await asyncio.sleep(0.05)
        assert 'trackwell_no_consent_messages{destination="crm"} 1.0' in text
        assert 'trackwell_held_messages{destination="crm"} 0.0' in text
        assert 'trackwell_deliveries_total{destination="crm",result="no_consent"} 1.0' in text
        assert 'trackwell_captured_messages{destination="crm"} 0.0' in text  # never built


def test_a_gateway_refuses_destinations_requiring_consent_the_plan_says_nothing_of(
    tmp_path: Path,
) -> None:
    from trackwell.core.consent import ConsentConfigError
    from trackwell.destinations import Webhook
    from trackwell.server.gateway import Gateway
    from trackwell.server.settings import GatewaySettings

    crm = Webhook("crm", url="https://hooks.example.com/in", capture=True, consent=("ads",))
    settings = GatewaySettings(
        plan=EXAMPLE_PLAN, store=f"sqlite:///{tmp_path / 'g.db'}", destinations=[crm]
    )
    with pytest.raises(ConsentConfigError, match="crm require consent"):
        Gateway(settings)
    crm.close()
