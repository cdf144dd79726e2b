"""Reading a request body: content type, size limits, gzip, and JSON, each with a clear error."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import orjson
from starlette.requests import Request

from trackwell.server.problems import Problem
from trackwell.server.timeouts import BODY_TIMEOUT_SECONDS

# The bodies are JSON whatever the label: text/plain is what `navigator.sendBeacon` and CORS-simple
# requests (analytics.js) can send, and RudderStack's Node SDK labels its gzipped JSON
# application/x-www-form-urlencoded by default.
JSON_TYPES = frozenset(["application/json", "text/plain", "application/x-www-form-urlencoded"])
ENCODINGS = frozenset(["identity", "gzip", "x-gzip", "deflate"])
# Past a limit the rest of a body is read and dropped up to here, so that the client can read
# the 413 instead of failing to write into a closed connection.
DRAIN_LIMIT = 16 * 1024 * 1024


def _kb(size: int) -> str:
    return f"{size // 1024} KB"


def check_content_type(request: Request) -> None:
    """415 unless the body is JSON (a missing Content-Type is read as JSON, as Segment does)."""
    value = request.headers.get("content-type")
    if value is None:
        return
    base = value.split(";", 1)[0].strip().lower()
    if base in JSON_TYPES or base.endswith("+json"):
        return
    raise Problem(
        415,
        "unsupported_media_type",
        f"Content-Type {base or value!r} is not supported; send application/json",
        "Content-Type",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The decoded body: 413 past `limit` (before and after gzip), 400 for a broken gzip."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in ENCODINGS:
        raise Problem(
            415,
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding",
            "Content-Encoding",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_LIMIT:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    seconds = _body_timeout(request)
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size <= limit:
                    chunks.append(chunk)
                elif size > DRAIN_LIMIT:
                    break
    except TimeoutError:
        # A body trickling in (or stalled) holds a connection and a task: give up on it.
        raise Problem(
            408,
            "request_timeout",
            f"the request body did not arrive within {seconds:g} s; nothing was stored",
            headers={"Connection": "close"},
        ) from None
    if size > limit:
        raise _too_large(size, limit)
    raw = b"".join(chunks)
    if encoding == "identity":
        return raw
    return _inflate(raw, limit, encoding)


def _body_timeout(request: Request) -> float:
    gateway = getattr(request.app.state, "gateway", None)
    seconds = getattr(getattr(gateway, "settings", None), "body_timeout", None)
    return float(seconds) if seconds else BODY_TIMEOUT_SECONDS


def _too_large(size: int, limit: int) -> Problem:
    return Problem(
        413,
        "too_large",
        f"request body is {size / 1024:.0f} KB or more; the limit here is {_kb(limit)}",
    )


def _inflate(raw: bytes, limit: int, encoding: str) -> bytes:
    # 47 = 32 + 15: accept a gzip or zlib header; max_length stops a decompression bomb early.
    inflater = zlib.decompressobj(47 if encoding != "deflate" else 15)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise Problem(
            400, "invalid_encoding", f"body is not valid {encoding}: {exc}", "Content-Encoding"
        ) from None
    if len(data) > limit:
        raise Problem(413, "too_large", f"decompressed body is over {_kb(limit)}, the limit here")
    if not inflater.eof:
        raise Problem(
            400,
            "invalid_encoding",
            f"the {encoding} stream is truncated (it ends before its last block)",
            "Content-Encoding",
        )
    return data


def parse_json(data: bytes) -> Any:
    """The decoded JSON document; 400 with the position of the first error."""
    if not data.strip():
        raise Problem(400, "invalid_json", "the body is empty; expected a JSON object")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "UTF-8" in text:
            text = "the body is not valid UTF-8"
        raise Problem(400, "invalid_json", f"body is not valid JSON: {text}") from None


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """Content type, size, encoding and JSON checked; the body must be an object."""
    check_content_type(request)
    document = parse_json(await read_body(request, limit))
    if not isinstance(document, dict):
        raise Problem(400, "invalid_json", "expected a JSON object at the top level")
    return document
