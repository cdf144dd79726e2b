"""Operations endpoints: /healthz, /readyz, /metrics and /openapi.json."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trackwell.core.tokens import hash_token, token_matches
from trackwell.core.version import __version__
from trackwell.server.gateway import Gateway
from trackwell.server.openapi import openapi_document
from trackwell.server.problems import Problem, json_response

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_TOKEN_ENV = "TRACKWELL_METRICS_TOKEN"


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
    writer, backlog = gateway.writer.stats, gateway.backlog
    # A failed write counts until a write succeeds or a probe begun after it finds the store
    # writable again, so readiness returns as soon as the store does.
    if not writer.healthy and writer.failed_at >= backlog.probe_ok_at:
        problems.append(f"the last store write failed: {writer.last_error}")
    if backlog.store_error:
        problems.append(backlog.store_error)
    if (waited := backlog.stalled()) is not None:
        problems.append(f"the store has not answered a probe for {waited:.1f} s")
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
    """Prometheus text exposition (behind a bearer token when TRACKWELL_METRICS_TOKEN is set)."""
    gateway = _gateway(request)
    expected = gateway.settings.metrics_token_hash
    if expected is not None and not _bearer_matches(request, expected):
        raise Problem(
            401,
            "unauthorized",
            "/metrics needs the bearer token of TRACKWELL_METRICS_TOKEN"
            " (Prometheus: `authorization: {credentials: ...}` in the scrape config)",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(gateway.metrics.render(), media_type=PROMETHEUS_TYPE)


def metrics_token_hash(environ: Mapping[str, str]) -> str | None:
    """The hash of TRACKWELL_METRICS_TOKEN, or None when /metrics is open."""
    token = environ.get(METRICS_TOKEN_ENV, "")
    return hash_token(token) if token else None


def _bearer_matches(request: Request, expected_hash: str) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    return token_matches(token.strip(), expected_hash)


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
