"""CORS for the ingestion APIs (Segment and Customer.io), with the web origins allowed per source.

A preflight carries no key, so it is answered for every origin some source allows (the union);
the real request then carries its key, and `check_origin` refuses it (403, saying which source and
which origin) unless its own source allows that origin. A response to an allowed origin names that
origin (never a literal `*`) and varies on it.

What analytics.js needs from CORS (segmentio/analytics-next, packages/browser/src/plugins/segmentio/
fetch-dispatcher.ts, batched-dispatcher.ts and shared-dispatcher.ts): a POST with
`Content-Type: text/plain` and, since 1.84.0, `Authorization: Basic <writeKey:>` (so a preflight
is sent; before, the request was CORS-simple), optionally `X-Retry-Count`; it reads `Retry-After`
of a 429, which a page can only read when the response exposes it.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trackwell.server.auth import ANY_ORIGIN, Source
from trackwell.server.gateway import Gateway
from trackwell.server.problems import Problem
from trackwell.server.refusals import COUNT_HEADERS

# The paths browsers post events to: the Segment API (analytics.js) and Customer.io's (not the
# console's /api/ twins, which are same-origin pages behind a session).
API_PREFIXES = ("/v1/", "/api/v1/", "/api/v2/")
METHODS = "POST, PUT, DELETE"
# Chromium caps a cached preflight at two hours; asking for more changes nothing.
MAX_AGE_SECONDS = "7200"
# Response headers a page's script may read: analytics-next waits out a 429's Retry-After.
EXPOSED = ", ".join(["Retry-After", *COUNT_HEADERS])


def allowance(origin: str) -> dict[str, str]:
    """The headers that let a page of `origin` read a response."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": EXPOSED,
        "Vary": "Origin",
    }


def check_origin(request: Request, source: Source) -> None:
    """403 when a browser (an `Origin` header) sends with a key whose source does not allow it.

    The refusal itself is readable by the page, so its console says why instead of reporting a
    bare CORS failure."""
    origin = request.headers.get("origin")
    if origin is None or source.allows_origin(origin):
        return
    listed = ", ".join(sorted(source.allowed_origins)) or "none"
    raise Problem(
        403,
        "origin_not_allowed",
        f"web pages at {origin} may not send with source '{source.name}' (its allowed_origins:"
        f" {listed}); add the origin to [sources.{source.name}] allowed_origins. Nothing was"
        " stored",
        "Origin",
        headers=allowance(origin),
    )


class SourceCORS:
    """ASGI middleware: preflights for the union of allowed origins, allowances on responses."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    def _allowed(self, origin: str) -> bool:
        origins = self.gateway.keys.origins()
        return ANY_ORIGIN in origins or origin.lower() in origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, headers)(scope, receive, send)
            return
        allowed = self._allowed(origin)

        async def send_with_allowance(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                if "access-control-allow-origin" not in response_headers:
                    if allowed:
                        response_headers.update(allowance(origin))
                    else:
                        response_headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_allowance)

    def _preflight(self, origin: str, headers: Headers) -> ASGIApp:
        """204 with the allowance for an allowed origin; 403 without one for any other."""
        if not self._allowed(origin):
            return Problem(
                403,
                "origin_not_allowed",
                f"no source allows web pages at {origin}; list the origin in a source's"
                " allowed_origins ([sources.NAME] in trackwell.toml)",
                "Origin",
                headers={"Vary": "Origin"},
            ).response()
        allow = {
            **allowance(origin),
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Max-Age": MAX_AGE_SECONDS,
        }
        requested = headers.get("access-control-request-headers")
        if requested:
            # Any header the page asks for (Authorization, Content-Encoding, X-Retry-Count...):
            # the key decides what is accepted, not the header names.
            allow["Access-Control-Allow-Headers"] = requested
        return Response(status_code=204, headers=allow)
