"""Structured JSON logs, and the access log: route, status and time, never payloads or keys."""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from trackwell.server.gateway import Gateway

access_log = logging.getLogger("trackwell.server.access")

# Paths become a fixed set of route labels: ids in a path are data and must not become labels.
ROUTES = frozenset(
    [
        "/v1/identify", "/v1/track", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias",
        "/v1/batch", "/v1/import", "/v1/i", "/v1/t", "/v1/p", "/v1/s", "/v1/g", "/v1/a", "/v1/b",
        "/api/v1/events", "/api/v1/merge_customers", "/api/v1/metrics", "/api/v1/push/events",
        "/api/v2/batch",
        "/api/v2/entity", "/healthz", "/readyz", "/metrics", "/openapi.json", "/trackwell.js",
    ]
)  # fmt: skip


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "info") -> None:
    """Send every log record (trackwell's and uvicorn's) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # uvicorn's own access log prints the query string, where a browser key may travel.
    logging.getLogger("uvicorn.access").disabled = True


def route_label(path: str) -> str:
    """The route a path belongs to, for logs and metrics."""
    if path in ROUTES:
        return path
    if path.startswith("/api/v1/customers/"):
        return "/api/v1/customers/*"
    return "other"


class AccessLog:
    """ASGI middleware: one log line and one metrics observation per HTTP request."""

    def __init__(self, app: ASGIApp, gateway: Gateway, *, log_requests: bool = True) -> None:
        self.app = app
        self.gateway = gateway
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            seconds = time.perf_counter() - started
            route = route_label(scope["path"])
            self.gateway.metrics.observe(route, status, seconds)
            if self.log_requests:
                access_log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "route": route,
                            "status": status,
                            "ms": round(seconds * 1000, 2),
                        }
                    },
                )
