"""GET /trackwell.js: the marketing-page snippet, with the plan's pages and events built in."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trackwell.plan import Plan
from trackwell.server.gateway import Gateway

PLACEHOLDER = '/*TRACKWELL_PLAN*/{"pages": [], "events": []}'
CACHE_SECONDS = 300


@lru_cache(maxsize=1)
def _template() -> str:
    text = resources.files("trackwell.server").joinpath("static/trackwell.js").read_text("utf-8")
    if PLACEHOLDER not in text:
        raise RuntimeError("trackwell.js has lost its plan placeholder")
    return text


def render(plan: Plan) -> tuple[bytes, str]:
    """The script for a plan, and its ETag (a reload changes both)."""
    planned = {"pages": list(plan.pages), "events": sorted(plan.events)}
    # `</` is escaped so the JSON can never close an inline <script> element.
    data = orjson.dumps(planned).decode().replace("</", "<\\/")
    body = _template().replace(PLACEHOLDER, data).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


async def snippet(request: Request) -> Response:
    """The script, cacheable for a few minutes."""
    gateway: Gateway = request.app.state.gateway
    plan = gateway.plan.plan
    cached = getattr(request.app.state, "snippet", None)
    if cached is None or cached[0] is not plan:  # rendered once per plan (a reload re-renders)
        cached = (plan, *render(plan))
        request.app.state.snippet = cached
    _, body, etag = cached
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={CACHE_SECONDS}"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)


def routes() -> list[BaseRoute]:
    """The snippet route."""
    return [Route("/trackwell.js", snippet, methods=["GET"])]
