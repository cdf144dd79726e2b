"""A loopback HTTP(S) server for fake APIs: one thread, scriptable faults, every request recorded."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import shutil
import ssl
import subprocess
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it; header names are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON (raises ValueError when it is not)."""
        return json.loads(self.body)


@dataclass
class Reply:
    """What the fake answers: a status, a JSON-able (or bytes) body, headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """A scripted misbehaviour for the next request: a canned status, a hang, or a dropped line."""

    kind: Literal["status", "hang", "close"]
    reply: Reply | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate (its own CA) for 127.0.0.1 and its key."""

    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles | None:
    """Generate a certificate with the openssl CLI; None when openssl is not installed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return TlsFiles(cert, key)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs and the clients use
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _HttpServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows failures, not access logs."""

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        parts = urlsplit(self.path)
        request = Received(
            self.command,
            parts.path,
            dict(parse_qsl(parts.query)),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        fake = self.server.fake
        fault = fake._record(request)
        if fault is not None and fault.kind == "hang":
            fake._stopping.wait(fault.seconds)  # released early when the fake stops
            self.close_connection = True
            return
        if fault is not None and fault.kind == "close":
            self.close_connection = True  # no status line at all: the client sees a reset
            return
        if fault is not None and fault.reply is not None:
            reply = fault.reply
        else:
            try:
                with fake.lock:
                    reply = fake.handle(request)
            except Exception as exc:  # a bug in a fake should read as a 500, not a hang
                reply = Reply(500, {"error": f"fake server error: {exc!r}"})
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            data = reply.body
        elif reply.body is None:
            data = b""
        else:
            data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        headers = {"content-type": "application/json", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeServer:
    """Runs `handle` for every request on 127.0.0.1 (port 0), in a thread, optionally over TLS."""

    def __init__(self, *, tls: TlsFiles | None = None) -> None:
        self.tls = tls
        self.lock = threading.RLock()
        self.requests: list[Received] = []  # every request, faulted ones too
        self._faults: deque[Fault] = deque()
        self._seen: set[str] = set()
        self.duplicates = 0
        self._stopping = threading.Event()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a daemon thread."""
        httpd = _HttpServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.cert, self.tls.key)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging handlers, stop serving and close the socket."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:54321."""
        assert self._httpd is not None, "start() the fake first"
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._httpd is not None, "start() the fake first"
        return int(self._httpd.server_address[1])

    # -- scripted faults --------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        retry_after: str | None = None,
        body: Any = None,
    ) -> None:
        """The next `count` requests get `status` (with Retry-After when given)."""
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        reply = Reply(
            status, body if body is not None else {"error": f"scripted {status}"}, headers
        )
        self._script(count, Fault("status", reply))

    def hang_next(self, count: int = 1, *, seconds: float = 5.0) -> None:
        """The next `count` requests get no answer for `seconds` (past the client's timeout)."""
        self._script(count, Fault("hang", seconds=seconds))

    def close_next(self, count: int = 1) -> None:
        """The next `count` requests have their connection closed without a response."""
        self._script(count, Fault("close"))

    def _script(self, count: int, fault: Fault) -> None:
        with self.lock:
            self._faults.extend([fault] * count)

    def _record(self, request: Received) -> Fault | None:
        with self.lock:
            self.requests.append(request)
            return self._faults.popleft() if self._faults else None

    # -- what subclasses use ----------------------------------------------------------------

    def first_time(self, key: str) -> bool:
        """De-duplication by the tool's id: True the first time a key is seen."""
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        return True

    def handle(self, request: Received) -> Reply:
        """The API's behaviour; called under `self.lock`."""
        raise NotImplementedError


def json_size(value: Any) -> int:
    """Bytes of a value as a tool measures it: UTF-8 for strings, compact JSON otherwise."""
    if isinstance(value, str):
        return len(value.encode())
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def basic_credentials(headers: dict[str, str]) -> tuple[str, str] | None:
    """The user and password of a Basic Authorization header, if any."""
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password
