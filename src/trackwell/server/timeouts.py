"""Deadlines uvicorn lacks: a request's head must arrive in time (idle and slowloris sockets).

uvicorn closes a keep-alive connection that stays idle after a response, but not a connection
that never sends a request, nor one that trickles its request line and headers a byte at a
time: each holds a socket (and a file descriptor) for as long as the client likes. The body is
bounded separately, in `body.read_body`.

The deadline is an `asyncio.Protocol` that wraps uvicorn's httptools protocol rather than
subclassing it: uvicorn takes any protocol class as `http=` and builds it with keyword
arguments, which are handed on unchanged. The wrapper sees the same bytes first and follows
request boundaries with its own httptools parser, so it relies on no private method or attribute
of uvicorn's (an ASGI middleware could not do this: the application is called only once the
head has arrived). `tests/server/test_timeouts.py` pins that contract.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# From connection (or from the first byte of each later request) to the end of the request's
# headers. Between requests, uvicorn's own keep-alive timeout closes an idle connection.
HEAD_TIMEOUT_SECONDS = 10.0
# From the end of the headers to the end of the body (408 past it).
BODY_TIMEOUT_SECONDS = 30.0


class DeadlineProtocol(asyncio.Protocol):
    """uvicorn's httptools protocol behind a deadline on every request head (module level, so
    `--workers` can pickle it)."""

    head_timeout = HEAD_TIMEOUT_SECONDS

    def __init__(self, **uvicorn_arguments: Any) -> None:
        # Typed as what it is to us: any asyncio protocol; nothing else of it is touched.
        self.inner: asyncio.Protocol = HttpToolsProtocol(**uvicorn_arguments)
        # Callbacks: on_message_begin and on_headers_complete below; the body is only skipped.
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.BaseTransport | None = None

    # -- the deadline ----------------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.head_timeout, self._head_late)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_late(self) -> None:
        self._timer = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def on_message_begin(self) -> None:
        """A request's first byte: its head must be complete within the deadline."""
        self._arm()

    def on_headers_complete(self) -> None:
        """The head is in: the body has a deadline of its own (`body.read_body`)."""
        self._disarm()

    # -- asyncio.Protocol, passed on to uvicorn's protocol ---------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Arm the deadline for the first request, then let uvicorn take the connection."""
        self._transport = transport
        self._arm()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Follow request boundaries, then hand the bytes to uvicorn unchanged."""
        if self._parser is not None:
            try:
                self._parser.feed_data(data)
            except (httptools.HttpParserUpgrade, httptools.HttpParserError):
                # An upgraded connection is no longer HTTP; a malformed request is answered
                # (400) and closed by uvicorn's own parser. Either way, stop watching.
                self._parser = None
                self._disarm()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        """Passed on."""
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        """Passed on, with the deadline cancelled."""
        self._disarm()
        self._parser = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        """Passed on (flow control)."""
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        """Passed on (flow control)."""
        self.inner.resume_writing()


def protocol(head_timeout: float = HEAD_TIMEOUT_SECONDS) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's `http=`; another deadline makes a subclass (in-process
    servers only: it cannot be pickled for worker processes)."""
    if head_timeout == DeadlineProtocol.head_timeout:
        return DeadlineProtocol
    return type("DeadlineProtocol", (DeadlineProtocol,), {"head_timeout": head_timeout})
