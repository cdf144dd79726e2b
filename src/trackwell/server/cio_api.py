"""The Customer.io Track API-compatible routes (v1 and v2), with Basic site_id:api_key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trackwell.core.messages import (
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    MAX_MESSAGE_BYTES,
    NUL,
    NUL_MESSAGE,
    MessageError,
    from_json,
    shown,
)
from trackwell.core.operations import USER_DELETED, USER_SUPPRESSED, USER_UNSUPPRESSED
from trackwell.server import cio_bodies, cio_map
from trackwell.server.auth import UNAUTHORIZED, Source, basic_credentials, presented, require
from trackwell.server.body import check_content_type, parse_json, read_body
from trackwell.server.cio_bodies import BodyError
from trackwell.server.cio_map import MapError
from trackwell.server.cors import check_origin
from trackwell.server.gateway import Gateway
from trackwell.server.ingest import Unmappable, answer
from trackwell.server.problems import Problem

KEY_HELP = "use Basic authentication with site_id (the source name) and api_key (its key)"
CUSTOMERS = b"/api/v1/customers/"
# The /openapi.json schema each v1 customer call's body is held to (none: any object).
V1_SCHEMAS: dict[tuple[str, tuple[str, ...]], str] = {
    ("POST", ("events",)): "CioEvent",
    ("PUT", ("devices",)): "CioDevice",
}


def _source(request: Request, gateway: Gateway) -> Source:
    """The key's source; the site_id must name it (403 for a key of another source)."""
    credentials = basic_credentials(request.headers.get("authorization"))
    if credentials is None:
        raise Problem(401, "unauthorized", f"no credentials: {KEY_HELP}", headers=UNAUTHORIZED)
    site_id, api_key = credentials
    source = require(gateway.keys, api_key, KEY_HELP)
    if site_id != source.name:
        raise Problem(
            403,
            "forbidden",
            f"this api_key belongs to source '{source.name}', not to site_id '{site_id[:64]}'",
            "site_id",
        )
    if source.public:
        # A Customer.io api_key is a server secret: a key published in web pages must not
        # delete, suppress or re-address people through this API.
        raise Problem(
            403,
            "forbidden",
            f"source '{source.name}' has a public key (a browser key or allowed_origins): the"
            " Customer.io API takes only server keys",
            "api_key",
        )
    check_origin(request, source)
    return presented(request, source, api_key)


async def _body(request: Request, limit: int, *, optional: bool = False) -> dict[str, Any]:
    check_content_type(request)
    data = await read_body(request, limit)
    if optional and not data.strip():
        return {}  # DELETE and suppress calls may come without a body
    document = parse_json(data)
    if not isinstance(document, dict):
        raise Problem(400, "invalid_json", "expected a JSON object at the top level")
    return document


async def _answer(
    request: Request,
    build: Callable[[dict[str, Any]], list[dict[str, Any]]],
    *,
    optional: bool,
    schema: str | None = None,
) -> Response:
    """One call: its body mapped to messages and, with `schema`, held to the schema the
    document gives it (a 400 naming the field for either), then checked and stored."""
    gateway: Gateway = request.app.state.gateway
    source = _source(request, gateway)
    body = await _body(request, MAX_MESSAGE_BYTES, optional=optional)
    try:
        messages = build(body)
    except MapError as exc:
        raise Problem(400, "malformed", exc.message, exc.field) from None
    for message in messages:
        # One call is one request: a message it maps to that cannot be parsed (a NUL in an id
        # or a name) is refused whole with a 400 naming the field, as Segment's single calls are.
        try:
            from_json(message)
        except MessageError as exc:
            raise Problem(400, exc.code, exc.message, exc.path or None) from None
    if schema is not None:
        try:
            cio_bodies.check(schema, body)
        except BodyError as exc:
            raise Problem(400, "malformed", exc.message, exc.field) from None
    cio_map.address(messages)
    return await answer(request, gateway, source, messages, batch=len(messages) > 1)


async def customers(request: Request) -> Response:
    """Everything under /api/v1/customers/{id}: identify, delete, events, devices, suppress."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    # The raw path, so an id with an encoded "/" (an email, a URL) stays one segment.
    parts = [
        unquote(p.decode("latin-1")) for p in raw.split(b"?", 1)[0][len(CUSTOMERS) :].split(b"/")
    ]
    person, rest, method = parts[0], parts[1:], request.method
    if not person:
        raise Problem(404, "not_found", "no customer id in the path")
    if NUL in person or any(NUL in part for part in rest):
        raise Problem(400, "malformed", f"the customer id or device token {NUL_MESSAGE}", "id")
    routes: dict[tuple[str, tuple[str, ...]], Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
        ("PUT", ()): lambda b: cio_map.identify(person, b),
        ("DELETE", ()): lambda b: [cio_map.semantic(person, USER_DELETED)],
        ("POST", ("events",)): lambda b: [cio_map.event(person, b)],
        ("PUT", ("devices",)): lambda b: [cio_map.device(person, b)],
        ("POST", ("suppress",)): lambda b: [cio_map.semantic(person, USER_SUPPRESSED)],
        ("POST", ("unsuppress",)): lambda b: [cio_map.semantic(person, USER_UNSUPPRESSED)],
    }
    if method == "DELETE" and len(rest) == 2 and rest[0] == "devices" and rest[1]:
        token = rest[1]
        return await _answer(
            request, lambda b: [cio_map.device_deleted(person, token)], optional=True
        )
    build = routes.get((method, tuple(rest)))
    if build is None:
        # The path holds ids (a card sent as a customer id): quoted masked, never in full.
        raise Problem(
            404, "not_found", f"no such Customer.io call: {method} {shown(request.url.path)}"
        )
    return await _answer(
        request,
        build,
        optional=method == "DELETE" or rest[-1:] in (["suppress"], ["unsuppress"]),
        schema=V1_SCHEMAS.get((method, tuple(rest))),
    )


async def anonymous_event(request: Request) -> Response:
    """POST /api/v1/events: an event of a person not identified yet (`anonymous_id`)."""
    return await _answer(
        request, lambda b: [cio_map.event(None, b)], optional=False, schema="CioEvent"
    )


async def merge_customers(request: Request) -> Response:
    """POST /api/v1/merge_customers: secondary merged into primary (an alias)."""
    return await _answer(request, lambda b: [cio_map.merge(b)], optional=False, schema="CioMerge")


async def metrics(request: Request) -> Response:
    """POST /api/v1/metrics: a delivery metric of any channel (the `Report Delivery Event`)."""
    return await _answer(request, lambda b: [cio_map.metric(b)], optional=False, schema="CioMetric")


async def push_events(request: Request) -> Response:
    """POST /api/v1/push/events: a push delivery metric (the older, push-only call)."""
    return await _answer(
        request, lambda b: [cio_map.push_metric(b)], optional=False, schema="CioPushMetric"
    )


async def entity(request: Request) -> Response:
    """POST /api/v2/entity: one v2 operation."""
    return await _answer(
        request, lambda b: cio_map.operation(b, ""), optional=False, schema="CioOperation"
    )


async def batch(request: Request) -> Response:
    """POST /api/v2/batch: v2 operations; one that cannot be mapped is kept, blocked."""
    gateway: Gateway = request.app.state.gateway
    source = _source(request, gateway)
    body = await _body(request, MAX_BATCH_BYTES)
    ops = body.get("batch")
    if not isinstance(ops, list):
        found = "missing" if ops is None else type(ops).__name__
        raise Problem(400, "malformed", f"expected an array of operations ({found})", "batch")
    if len(ops) > MAX_BATCH_MESSAGES:
        # A count, not a size: a 400 like any body its schema refuses (maxItems).
        raise Problem(
            400,
            "too_large",
            f"the batch has {len(ops):,} operations; the limit is {MAX_BATCH_MESSAGES:,}",
            "batch",
        )
    items: list[Any] = []
    for index, op in enumerate(ops):
        where = f"batch[{index}]."
        try:
            mapped = cio_map.operation(op, where)
            cio_bodies.check("CioOperation", op, where)
            items.extend(mapped)
        except (MapError, BodyError) as exc:
            items.append(Unmappable(op, exc.field, exc.message))
    cio_map.address([item for item in items if isinstance(item, dict)])
    return await answer(request, gateway, source, items, batch=True)


def routes() -> list[BaseRoute]:
    """The Customer.io-compatible routes."""
    return [
        Route("/api/v1/customers/{rest:path}", customers, methods=["PUT", "POST", "DELETE"]),
        Route("/api/v1/events", anonymous_event, methods=["POST"]),
        Route("/api/v1/merge_customers", merge_customers, methods=["POST"]),
        Route("/api/v1/metrics", metrics, methods=["POST"]),
        Route("/api/v1/push/events", push_events, methods=["POST"]),
        Route("/api/v2/entity", entity, methods=["POST"]),
        Route("/api/v2/batch", batch, methods=["POST"]),
    ]
