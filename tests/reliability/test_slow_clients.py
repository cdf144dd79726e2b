"""Slow and idle clients: hundreds of connections that send nothing, request heads and bodies
trickling in a byte at a time. Deadlines close them, and a normal client meanwhile is served as
fast as before.

The gateway runs on uvicorn in this process (a thread), with the deadlines shortened to a second
so the test is quick: `trackwell serve` uses the same protocol and setting with their defaults.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.server.conftest import SERVER_KEY

from .helpers import in_process_gateway, percentile, track, wait_until

DEADLINE = 1.0
IDLE = 300
TRICKLING = 20


def latencies(client: httpx.Client, url: str, run: str, count: int) -> list[float]:
    found = []
    for n in range(count):
        started = time.perf_counter()
        response = client.post(f"{url}/v1/track", json=track(run, "normal", n))
        found.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return found


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed this socket (it reads EOF, or an answer and then EOF)."""
    sock.settimeout(0)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_idle_and_trickling_connections_are_cut_and_others_do_not_notice(tmp_path: Path) -> None:
    with (
        in_process_gateway(tmp_path, DEADLINE) as (url, store),
        httpx.Client(auth=(SERVER_KEY, ""), timeout=5) as client,
    ):
        port = int(url.rsplit(":", 1)[1])
        baseline = latencies(client, url, "before", 40)

        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(IDLE)]
        body = orjson.dumps(track("slow", "trickle", 0))
        head = (
            b"POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Basic " + _basic(SERVER_KEY) + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        slow_bodies = [socket.create_connection(("127.0.0.1", port)) for _ in range(TRICKLING)]
        slow_heads = [socket.create_connection(("127.0.0.1", port)) for _ in range(TRICKLING)]
        for sock in slow_bodies:
            sock.sendall(head)
        stop = threading.Event()
        answers: dict[int, bytes] = {}

        def trickle() -> None:
            position = 0
            while not stop.is_set():
                for sock in slow_bodies:
                    with contextlib.suppress(OSError):
                        sock.send(body[position : position + 1])
                for sock in slow_heads:
                    with contextlib.suppress(OSError):
                        sock.send(head[position : position + 1])
                position += 1
                stop.wait(0.1)

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        try:
            during = latencies(client, url, "during", 40)
            cut = wait_until(
                lambda: all(closed_by_server(s) for s in idle + slow_heads), DEADLINE * 4
            )
            assert cut, (
                f"{sum(not closed_by_server(s) for s in idle)} idle and "
                f"{sum(not closed_by_server(s) for s in slow_heads)} slow-head connections open"
            )
            for sock in slow_bodies:
                sock.settimeout(DEADLINE * 3)
                with contextlib.suppress(OSError):
                    answers[sock.fileno()] = sock.recv(4096)
        finally:
            stop.set()
            trickler.join(5)
            for sock in idle + slow_bodies + slow_heads:
                sock.close()

        # Each slow body got a 408 (never a 200, never a hang), and nothing of it was stored.
        statuses = [
            answer.split(b" ", 2)[1] if answer else b"closed" for answer in answers.values()
        ]
        assert statuses == [b"408"] * TRICKLING, statuses
        assert store.get("slow:trickle:0") is None
        # A normal client was served as fast as before (2 cores shared with 340 sockets' worth
        # of test traffic: a margin of 2x + 20 ms).
        assert percentile(during, 95) <= max(
            2 * percentile(baseline, 95), percentile(baseline, 95) + 0.02
        ), (
            f"p95 {percentile(during, 95) * 1000:.1f} ms with slow clients, "
            f"{percentile(baseline, 95) * 1000:.1f} ms without"
        )
        # Still serving, on a new connection: the client's own keep-alive connection has been
        # idle about as long as the head deadline, and a request sent just as the server closes
        # an idle connection is reset (HTTP/1.1's keep-alive race, which no server avoids).
        with httpx.Client(auth=(SERVER_KEY, ""), timeout=5) as fresh:
            assert latencies(fresh, url, "after", 5)


def _basic(key: str) -> bytes:
    import base64

    return base64.b64encode(f"{key}:".encode())


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_keep_alive_connection_is_not_cut_while_it_works(tmp_path: Path, pipelined: bool) -> None:
    """The head deadline re-arms per request: a busy keep-alive connection lives on."""
    with (
        in_process_gateway(tmp_path, DEADLINE) as (url, _),
        httpx.Client(auth=(SERVER_KEY, ""), timeout=5) as client,
    ):
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < DEADLINE * 2.5:
            assert client.post(f"{url}/v1/track", json=track("ka", "p", n)).status_code == 200
            n += 1
            time.sleep(DEADLINE / 4)
        if pipelined:
            port = int(url.rsplit(":", 1)[1])
            body = orjson.dumps(track("ka", "q", 0))
            request = (
                b"POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Basic " + _basic(SERVER_KEY) + b"\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(request * 3)
                sock.settimeout(5)
                seen = b""
                while seen.count(b"HTTP/1.1 200") < 3:
                    chunk = sock.recv(65536)
                    assert chunk, seen
                    seen += chunk
