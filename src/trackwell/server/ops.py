"""Operations endpoints: /healthz, /readyz, /metrics and /openapi.json."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trackwell import __version__
from trackwell.server.gateway import Gateway
from trackwell.server.openapi import openapi_document
from trackwell.server.problems import json_response

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def healthz(request: Request) -> Response:
    """Alive: the process answers."""
    return json_response({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    """Ready: started, the store takes writes, and the backlog is below the high-water mark."""
    gateway = _gateway(request)
    problems: list[str] = []
    if not gateway.started:
        problems.append("not started (or shutting down)")
    if not gateway.writer.stats.healthy:
        problems.append(f"the last store write failed: {gateway.writer.stats.last_error}")
    if gateway.backlog.store_error:
        problems.append(gateway.backlog.store_error)
    if gateway.backlog.over():
        problems.append(
            f"delivery backlog {gateway.backlog.size} is above the high-water mark"
            f" {gateway.backlog.high_water}"
        )
    plan = gateway.plan.plan
    body = {
        "status": "ready" if not problems else "not ready",
        "problems": problems,
        "plan": {"name": plan.name, "version": plan.version},
        "backlog": gateway.backlog.size,
    }
    return json_response(body, 200 if not problems else 503)


async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(_gateway(request).metrics.render(), media_type=PROMETHEUS_TYPE)


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 description of every endpoint."""
    return json_response(openapi_document(str(request.base_url).rstrip("/")))


def routes() -> list[BaseRoute]:
    """The operations routes."""
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
