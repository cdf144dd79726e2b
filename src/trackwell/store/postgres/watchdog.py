"""Cuts the socket of a PostgreSQL call that outlived its bound (a frozen server, a partition).

Server-side timeouts cannot fire when the server never sees the query or never answers, and
TCP keepalives are answered by a frozen server's kernel; only the client can bound that wait.
Shutting the socket down wakes the driver's wait with an error, and the pool discards the
connection when it comes back broken.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(eq=False)
class Call:
    """One bounded use of a connection."""

    conn: psycopg.Connection[Any]
    deadline: float
    fired: bool = False
    committing: bool = False


class Watchdog:
    """One thread per process that cuts the connections of overdue calls."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls: set[Call] = set()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def arm(self, conn: psycopg.Connection[Any], seconds: float) -> Call:
        """Start the clock on a call."""
        call = Call(conn, time.monotonic() + seconds)
        with self._cond:
            if self._thread is None or self._pid != os.getpid():
                # A forked child has no copy of its parent's thread: start its own.
                self._pid = os.getpid()
                self._calls = set()
                self._thread = threading.Thread(
                    target=self._run, name="trackwell-pg-watchdog", daemon=True
                )
                self._thread.start()
            self._calls.add(call)
            self._cond.notify()
        return call

    def disarm(self, call: Call) -> None:
        """The call is over (finished or failed); a connection that was cut is closed."""
        with self._cond:
            self._calls.discard(call)
        if call.fired:
            # Cut as the call ended, maybe after it succeeded: the pool must not hand out a
            # connection whose socket is shut, and it discards a closed one.
            call.conn.close()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for call in [c for c in self._calls if c.deadline <= now]:
                    self._calls.discard(call)
                    call.fired = True
                    _cut(call.conn)
                nearest = min((c.deadline for c in self._calls), default=None)
                self._cond.wait(None if nearest is None else max(0.0, nearest - now))


def _cut(conn: psycopg.Connection[Any]) -> None:
    """Shut the connection's socket down, waking whoever waits on it."""
    try:
        fd = conn.pgconn.socket
    except psycopg.OperationalError:
        return  # already closed
    # A duplicate of the descriptor: shutdown() acts on the socket both share, while closing our
    # duplicate leaves the driver's descriptor valid for its own cleanup. The socket may already
    # be gone: then there is nothing left to wake.
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)
