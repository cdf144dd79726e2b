"""The console's gate: a session for every request, a CSRF token on every POST, safe headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trackwell.console.auth import SESSION_COOKIE, Guard

MAX_FORM_BYTES = 64 * 1024
# Served without a session: the login form and the static files it needs.
LOGIN_PATH = "/login"
STATIC_PREFIX = "/static/"
# The console's own paths. Mounted at `/`, the console also sees every path the gateway has no
# route for; those get a plain 404, not "log in", so an API client's typo reads as one.
SECTIONS = ("people", "events", "violations", "destinations", "quality", "plan", "privacy", "audit",
            "api", "logout")  # fmt: skip
# No inline script and no third party: the vendored chart library and console.js only.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        b" connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
# Over TLS only (RFC 6797 §7.2: a browser ignores it over plain HTTP): a year, subdomains not
# included, as the console may share a host name with services it knows nothing of.
HSTS = (b"strict-transport-security", b"max-age=31536000")


def cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies (Starlette's lenient parser: one odd cookie spoils none of the rest)."""
    return cookie_parser(_header(scope, b"cookie"))


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class Gate:
    """ASGI middleware in front of every console route."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"][len(scope.get("root_path", "")) :] or "/"
        static = path.startswith(STATIC_PREFIX)
        send = _with_headers(send, cacheable=static, tls=scope.get("scheme") == "https")
        if static:
            await self.app(scope, receive, send)
            return
        session = self.guard.session(cookies(scope).get(SESSION_COOKIE))
        scope["console_session"] = session
        if not (path == LOGIN_PATH or _ours(path)):
            await self.app(scope, receive, send)  # a 404, whoever asks
            return
        if session is None and path != LOGIN_PATH:
            await self._refuse(scope, send, path)
            return
        if scope["method"] == "POST":
            form = await _read_form(receive)
            if form is None:
                await _answer(send, 413, "the form is too large")
                return
            scope["console_form"] = form
            # The login form has no session yet; its handler checks its own token.
            if session is not None and path != LOGIN_PATH:
                token = form.get("csrf") or _header(scope, b"x-csrf-token")
                if not self.guard.check_csrf(session, token):
                    await _answer(send, 403, "missing or invalid CSRF token: reload the page")
                    return
            receive = _replay(b"")
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, path: str) -> None:
        """A browser asking for a page goes to the login form; anything else gets 401."""
        accept = _header(scope, b"accept")
        # A live region's refresh (`?part=`) is told 401, never handed the login page to paint.
        fragment = any(k == "part" for k, _ in parse_qsl(scope["query_string"].decode("latin-1")))
        if (
            scope["method"] == "GET"
            and not path.startswith("/api/")
            and "text/html" in accept
            and not fragment
        ):
            target = path + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
            location = f"{scope.get('root_path', '')}/login?next={quote(target, safe='')}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", location.encode()), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await _answer(send, 401, "log in to the console first (/login)")


def _ours(path: str) -> bool:
    """Whether a path belongs to one of the console's pages, its API or its actions."""
    return path == "/" or path.split("/", 2)[1] in SECTIONS


def _with_headers(send: Send, *, cacheable: bool, tls: bool) -> Send:
    """`send` with the security headers added (HSTS over TLS); pages (not static files) are
    never cached."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), *SECURITY_HEADERS]
            if tls:
                headers.append(HSTS)
            if not cacheable:
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _read_form(receive: Receive) -> dict[str, str] | None:
    """A urlencoded POST body as a dict; None when it is larger than a form should be."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES:
            return None
        if not message.get("more_body", False):
            break
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return dict(parse_qsl(text, keep_blank_values=True))


def _replay(body: bytes) -> Receive:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _answer(send: Send, status: int, message: str) -> None:
    body: Any = orjson.dumps({"code": status, "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
