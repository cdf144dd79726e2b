"""Deadlines uvicorn lacks: a request's head must arrive in time (idle and slowloris sockets).

uvicorn closes a keep-alive connection that stays idle after a response, but not a connection
that never sends a request, nor one that trickles its request line and headers a byte at a
time: each holds a socket (and a file descriptor) for as long as the client likes. The body is
bounded separately, in `body.read_body`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# From connection (or from the end of the previous response) to the end of the request's headers.
HEAD_TIMEOUT_SECONDS = 10.0
# From the end of the headers to the end of the body (408 past it).
BODY_TIMEOUT_SECONDS = 30.0


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on every request head (module level, so
    `--workers` can pickle it)."""

    head_timeout = HEAD_TIMEOUT_SECONDS
    _head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        waiting = self.cycle is not None and not self.cycle.response_complete  # pipelined
        if not waiting and not self.transport.is_closing():
            self._arm()  # the next request on this connection gets the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol(head_timeout: float = HEAD_TIMEOUT_SECONDS) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's `http=`; another deadline makes a subclass (in-process
    servers only: it cannot be pickled for worker processes)."""
    if head_timeout == DeadlineProtocol.head_timeout:
        return DeadlineProtocol
    return type("DeadlineProtocol", (DeadlineProtocol,), {"head_timeout": head_timeout})
