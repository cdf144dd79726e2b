"""A client that hangs up mid-body is a client's act: a quiet 499, never a server error."""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .conftest import QUICK_KEY, start_gateway


def send_half_a_body(url: str) -> None:
    """A POST that declares 10,000 bytes, sends 100 and closes the connection."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        head = (
            "POST /v1/batch HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            "Content-Length: 10000\r\n"
            f"Authorization: Basic {base64.b64encode(f'{QUICK_KEY}:'.encode()).decode()}\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"batch": [' + b" " * 89)
        time.sleep(0.2)  # the gateway is reading the body when the client goes


def test_a_client_gone_mid_body_is_a_quiet_499(tmp_path: Path) -> None:
    served = start_gateway(tmp_path)
    try:
        send_half_a_body(served.url)
        deadline = time.monotonic() + 10
        metrics = ""
        while time.monotonic() < deadline:
            metrics = httpx.get(f"{served.url}/metrics").text
            if 'status="499"' in metrics:
                break
            time.sleep(0.1)
        assert httpx.get(f"{served.url}/healthz").status_code == 200
    finally:
        served.stop()
    lines = [json.loads(line) for line in served.logs().splitlines() if line.startswith("{")]
    batch_lines = [line for line in lines if line.get("route") == "/v1/batch"]
    assert [line["status"] for line in batch_lines] == [499]
    assert [line for line in lines if line.get("level") in ("ERROR", "CRITICAL")] == []
    assert "Traceback" not in served.logs()
    assert 'route="/v1/batch",status="499"' in metrics
    assert 'status="500"' not in metrics
