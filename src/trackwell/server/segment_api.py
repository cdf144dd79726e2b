"""The Segment-compatible HTTP API: /v1/identify, track, page, screen, group, alias and batch,
and the short paths analytics.js posts to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trackwell.core.messages import (
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    MessageError,
    from_json,
    json_type,
    parse_time,
)
from trackwell.server.auth import Source, basic_credentials, presented, require
from trackwell.server.body import read_json_object
from trackwell.server.cors import check_origin
from trackwell.server.gateway import Gateway
from trackwell.server.ingest import answer
from trackwell.server.problems import Problem

KEY_HELP = "send the write key as the Basic user name, or as writeKey in the body"
# analytics.js (@segment/analytics-next) posts each call to `{apiHost}/` + the first letter of its
# type, and a batch (deliveryStrategy "batching") to `{apiHost}/b` as {writeKey, batch, sentAt}:
# segmentio/analytics-next, packages/browser/src/plugins/segmentio/index.ts (`send`) and
# batched-dispatcher.ts (`sendBatch`). With apiHost `HOST/v1` they land under /v1/.
SHORT_PATHS = {kind[0]: kind for kind in MESSAGE_TYPES}
BATCH_SHORT_PATH = "b"


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _header_source(request: Request, gateway: Gateway) -> Source | None:
    """The source of a key in the Authorization header (401 at once when it is wrong)."""
    credentials = basic_credentials(request.headers.get("authorization"))
    if credentials is None:
        return None
    user, password = credentials
    if user and password:  # Customer.io-style site_id:api_key credentials work here too
        found = gateway.keys.find(user)
        if found is not None:
            return presented(request, found, user)
        return presented(request, require(gateway.keys, password, KEY_HELP), password)
    return presented(request, require(gateway.keys, user or password, KEY_HELP), user or password)


def _source(
    request: Request, gateway: Gateway, body: dict[str, Any], found: Source | None
) -> Source:
    """The source of the request: header, then body, then (browser keys only) the query."""
    in_body = body.pop("writeKey", None)
    if found is not None:
        return found
    if isinstance(in_body, str) and in_body:
        return presented(request, require(gateway.keys, in_body, KEY_HELP), in_body)
    in_query = request.query_params.get("writeKey")
    if in_query:
        source = presented(request, require(gateway.keys, in_query, KEY_HELP), in_query)
        if not source.anonymous_only:
            # URLs end up in proxy and browser logs; only a browser key is public anyway.
            raise Problem(
                403,
                "forbidden",
                "only a browser key may be sent in the URL (?writeKey=); " + KEY_HELP,
                "writeKey",
            )
        return source
    return require(gateway.keys, None, KEY_HELP)


async def single(kind: str, request: Request) -> Response:
    """One message; its type comes from the path, as in Segment's API."""
    gateway = _gateway(request)
    found = _header_source(request, gateway)
    body = await read_json_object(request, MAX_MESSAGE_BYTES)
    source = _source(request, gateway, body, found)
    check_origin(request, source)
    body["type"] = kind
    try:
        from_json(body)
    except MessageError as exc:
        status = 413 if exc.code == "too_large" else 400
        raise Problem(status, exc.code, exc.message, exc.path or None) from None
    return await answer(request, gateway, source, [body], batch=False)


async def batch(request: Request) -> Response:
    """Up to 2,500 messages (500 KB) stored together; a malformed one is kept, blocked."""
    gateway = _gateway(request)
    found = _header_source(request, gateway)
    body = await read_json_object(request, MAX_BATCH_BYTES)
    source = _source(request, gateway, body, found)
    check_origin(request, source)
    items = body.get("batch")
    if not isinstance(items, list):
        got = "missing" if items is None else type(items).__name__
        raise Problem(400, "malformed", f"expected an array of messages ({got})", "batch")
    if len(items) > MAX_BATCH_MESSAGES:
        # A count, not a size: a 400 like any body its schema refuses (maxItems), as Segment
        # answers 400 for a batch over its limits; a body over 500 KB stays a 413.
        raise Problem(
            400,
            "too_large",
            f"the batch has {len(items):,} messages; the limit is {MAX_BATCH_MESSAGES:,}",
            "batch",
        )
    _check_shared(body)
    shared = {k: body[k] for k in ("sentAt", "context", "integrations") if k in body}
    for item in items:
        if isinstance(item, dict):
            item.pop("writeKey", None)
            for key, value in shared.items():
                item.setdefault(key, value)  # the batch's sentAt and context apply to each
    return await answer(request, gateway, source, items, batch=True)


def _check_shared(body: dict[str, Any]) -> None:
    """Refuse (400, naming the field) a batch-level field every message would inherit broken."""
    for key in ("context", "integrations"):
        if key in body and not isinstance(body[key], dict):
            raise Problem(400, "malformed", f"expected an object, got {json_type(body[key])}", key)
    if "sentAt" in body:
        try:
            parse_time(body["sentAt"], "sentAt")
        except MessageError as error:
            raise Problem(400, "malformed", error.message, "sentAt") from error


def _single_endpoint(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await single(kind, request)

    endpoint.__name__ = f"segment_{kind}"
    return endpoint


def routes() -> list[BaseRoute]:
    """The Segment-compatible routes."""
    found: list[BaseRoute] = [
        Route(f"/v1/{kind}", _single_endpoint(kind), methods=["POST"]) for kind in MESSAGE_TYPES
    ]
    found += [
        Route(f"/v1/{letter}", _single_endpoint(kind), methods=["POST"])
        for letter, kind in SHORT_PATHS.items()
    ]
    found.append(Route("/v1/batch", batch, methods=["POST"], name="segment_batch"))
    found.append(Route("/v1/import", batch, methods=["POST"], name="segment_import"))
    found.append(Route(f"/v1/{BATCH_SHORT_PATH}", batch, methods=["POST"], name="segment_b"))
    return found
