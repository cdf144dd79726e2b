"""HTTP seen by destinations: plain request/response records and a one-method transport seam."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import httpx

TransportFailure = Literal["connect", "timeout", "reset", "protocol"]

# httpx logs every request URL at INFO, and a Customer.io URL carries the person's id or email:
# keep it to warnings so no payload reaches the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request a destination wants sent."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back; header names are lower-case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def text(self, limit: int = 500) -> str:
        """The body as text, cut to `limit` characters, for error messages."""
        text = self.body.decode("utf-8", "replace")
        return text if len(text) <= limit else text[: limit - 3] + "..."


class TransportError(Exception):
    """The request got no HTTP answer: connection refused or reset, timeout, broken protocol."""

    def __init__(self, kind: TransportFailure, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


class Transport(Protocol):
    """Sends one request. Tests hand destinations a fake; production uses HttpxTransport."""

    def send(self, request: HttpRequest, timeout: float) -> HttpResponse:
        """Send and return the response, or raise TransportError."""
        ...


class HttpxTransport:
    """A pooled httpx client (HTTP/1.1 keep-alive), safe to share between threads."""

    def __init__(self, *, verify: bool | ssl.SSLContext = True) -> None:
        self._client = httpx.Client(verify=verify, follow_redirects=False)
        self._lock = threading.Lock()

    def send(self, request: HttpRequest, timeout: float) -> HttpResponse:
        """Send one request over the pool."""
        try:
            response = self._client.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                content=request.body,
                timeout=timeout,
            )
        except httpx.TimeoutException as exc:
            raise TransportError("timeout", type(exc).__name__) from None
        except httpx.ConnectError as exc:
            raise TransportError("connect", str(exc) or type(exc).__name__) from None
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            raise TransportError("reset", str(exc) or type(exc).__name__) from None
        except httpx.HTTPError as exc:
            raise TransportError("protocol", str(exc) or type(exc).__name__) from None
        headers = {k.lower(): v for k, v in response.headers.items()}
        return HttpResponse(response.status_code, headers, response.content)

    def close(self) -> None:
        """Close the pool."""
        with self._lock:
            self._client.close()


# Requests a CaptureTransport keeps for inspection; what it recorded is counted, not kept.
CAPTURE_KEEP = 1_000


class CaptureTransport:
    """Records requests instead of sending them: a destination given one is in capture mode,
    and reports each message it records as `captured`, never as delivered."""

    def __init__(self, keep: int = CAPTURE_KEEP) -> None:
        self.requests: list[HttpRequest] = []  # the newest `keep`, oldest first
        self.recorded = 0  # every request ever recorded
        self._keep = keep
        self._lock = threading.Lock()

    def send(self, request: HttpRequest, timeout: float) -> HttpResponse:
        """Keep the request (the destination, not this answer, decides the outcome)."""
        with self._lock:
            self.requests.append(request)
            self.recorded += 1
            if len(self.requests) > 2 * self._keep:
                # A capture destination may run for days under `serve`: keep the newest only
                # (trimmed in halves, so appending stays cheap); the store holds every message.
                del self.requests[: -self._keep]
        return HttpResponse(200, {"content-type": "application/json"}, b"{}")
