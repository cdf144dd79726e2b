"""The head deadline (server/timeouts.py) on a real uvicorn, and the contract it relies on.

The deadline wraps uvicorn's protocol instead of subclassing it, so an upgrade of uvicorn cannot
silently disable it by renaming a private method: these tests fail, with the reason, if uvicorn
stops accepting a protocol class as `http=` or building it with keyword arguments.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from trackwell.server import timeouts

DEADLINE = 0.4


async def slow_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers after longer than the head deadline: the deadline must not cut a request in work."""
    assert scope["type"] == "http"
    await asyncio.sleep(DEADLINE * 2 if scope["path"] == "/slow" else 0)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def server() -> Iterator[int]:
    """uvicorn on a free loopback port with the head deadline, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        slow_app,
        http=timeouts.protocol(DEADLINE),
        lifespan="off",
        log_config=None,
        log_level="warning",
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not running.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield port
    finally:
        running.should_exit = True
        thread.join(10)
        sock.close()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within `seconds` (reading what it sends)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def request(path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def test_the_deadline_is_a_wrapper_not_a_subclass_of_uvicorn() -> None:
    """Subclassing uvicorn's protocol meant overriding its private methods; nothing of the kind."""
    uvicorn_classes = [c for c in timeouts.DeadlineProtocol.__mro__ if "uvicorn" in c.__module__]
    assert uvicorn_classes == [], f"the deadline subclasses uvicorn again: {uvicorn_classes}"
    assert issubclass(timeouts.DeadlineProtocol, asyncio.Protocol)


def test_a_connection_that_sends_nothing_is_closed_at_the_deadline() -> None:
    with server() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        assert closed_within(sock, 5), (
            "an idle connection was not closed: the head deadline is not in force (has uvicorn"
            " stopped building `http=` protocol classes with keyword arguments?)"
        )
        assert time.monotonic() - started >= DEADLINE * 0.9


def test_a_trickled_head_is_cut_and_a_slow_answer_is_not() -> None:
    with server() as port:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            started = time.monotonic()
            try:
                for byte in request()[:-2]:  # a byte every 50 ms, and never finished
                    sock.sendall(bytes([byte]))
                    time.sleep(0.05)
            except OSError:
                pass  # cut while trickling
            assert closed_within(sock, 5), "a trickled request head was never cut"
            assert time.monotonic() - started < DEADLINE + 2
        with socket.create_connection(("127.0.0.1", port)) as sock:
            # Two requests on one keep-alive connection, the first answered after the deadline.
            sock.sendall(request("/slow"))
            sock.settimeout(5)
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")
            time.sleep(DEADLINE / 2)
            sock.sendall(request())
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("chunks", [1, 3])
def test_each_request_on_a_keep_alive_connection_gets_the_deadline_anew(chunks: int) -> None:
    """A busy connection lives on past the deadline; a later request trickled too slowly is cut."""
    with server() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        for _ in range(4):
            data = request()
            step = len(data) // chunks + 1
            for start in range(0, len(data), step):
                sock.sendall(data[start : start + step])
                time.sleep(DEADLINE / 4 / chunks)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET / HT")  # the next head starts and stalls
        assert closed_within(sock, 5)
