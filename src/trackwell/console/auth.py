"""Console login: an admin token, a signed session cookie, and CSRF tokens bound to the session."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# `hash_token` is re-exported: tests and older code import it from here.
from trackwell.core.tokens import hash_token as hash_token
from trackwell.core.tokens import is_token_hash, new_token

TOKEN_ENV = "TRACKWELL_ADMIN_TOKEN"
SESSION_COOKIE = "tw_console"
LOGIN_COOKIE = "tw_console_login"
SESSION_SECONDS = 12 * 3600
LOGIN_FORM_SECONDS = 3600
# Failed logins tolerated per client and window before the form answers 429: admin tokens are
# random, so this only slows down guessing; counted per client, so one guesser never locks the
# admin out.
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 60.0
# Clients whose failures are remembered at once; past it the quietest are forgotten (bounded
# memory under a spray of addresses).
MAX_CLIENTS = 10_000


def admin_token_hash(
    console: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The admin token's hash: TRACKWELL_ADMIN_TOKEN wins over `[console] admin_token_hash`."""
    env = environ if environ is not None else {}
    token = env.get(TOKEN_ENV, "")
    if token:
        return hash_token(token)
    configured = (console or {}).get("admin_token_hash")
    return configured if isinstance(configured, str) and is_token_hash(configured) else None


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser: its id (CSRF tokens derive from it) and when it expires."""

    sid: str
    expires: int


@dataclass
class Guard:
    """Checks tokens and signs cookies with a secret made per process (a restart logs out)."""

    token_hash: str | None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    revoked: set[str] = field(default_factory=set)
    failures: dict[str, deque[float]] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        """Whether any token can log in at all."""
        return self.token_hash is not None

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def check_token(self, token: str) -> bool:
        """Whether `token` is the admin token (constant time; write keys are never accepted)."""
        if self.token_hash is None or not token:
            return False
        # Written out, not `core.tokens.token_matches`: a security test reads this method's
        # source to pin the constant-time comparison.
        return hmac.compare_digest(hash_token(token).encode(), self.token_hash.encode())

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Seconds before `client` may try again: 0 unless it failed too often in the window."""
        moment = time.monotonic() if now is None else now
        times = self.failures.get(client)
        if times is None:
            return 0
        while times and times[0] <= moment - FAILURE_WINDOW_SECONDS:
            times.popleft()
        if not times:
            del self.failures[client]
            return 0
        if len(times) < MAX_FAILURES:
            return 0
        return max(1, math.ceil(times[0] + FAILURE_WINDOW_SECONDS - moment))

    def throttled(self, client: str, now: float | None = None) -> bool:
        """Too many failed logins from `client` in the last minute."""
        return self.retry_after(client, now) > 0

    def failed(self, client: str, now: float | None = None) -> None:
        """Count a failed login from `client`."""
        moment = time.monotonic() if now is None else now
        if client not in self.failures and len(self.failures) >= MAX_CLIENTS:
            # Forget the client whose last failure is oldest (dicts keep insertion order, and a
            # client is moved to the end on each failure).
            del self.failures[next(iter(self.failures))]
        times = self.failures.pop(client, deque())
        times.append(moment)
        self.failures[client] = times

    def new_session(self, now: float | None = None) -> tuple[Session, str]:
        """A fresh session and its cookie value."""
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        session = Session(new_token(nbytes=18), expires)
        body = f"{session.sid}.{expires}"
        return session, f"{body}.{self._sign('session|' + body)}"

    def session(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie carries, when its signature holds and it has not expired."""
        if not cookie or cookie.count(".") != 2:
            return None
        sid, expires_text, signature = cookie.split(".")
        body = f"{sid}.{expires_text}"
        if not hmac.compare_digest(signature, self._sign("session|" + body)):
            return None
        if not expires_text.isdigit() or int(expires_text) < (time.time() if now is None else now):
            return None
        return None if sid in self.revoked else Session(sid, int(expires_text))

    def revoke(self, session: Session) -> None:
        """Log a session out (its cookie stops working in this process)."""
        self.revoked.add(session.sid)

    def csrf(self, session: Session) -> str:
        """The CSRF token every form of this session carries."""
        return self._sign("csrf|" + session.sid)

    def check_csrf(self, session: Session, token: str) -> bool:
        """Whether a submitted CSRF token belongs to this session."""
        return bool(token) and hmac.compare_digest(token, self.csrf(session))

    def sign_notice(self, text: str) -> str:
        """A signature for a notice one page hands the next through the URL (a replay's count)."""
        return self._sign("notice|" + text)

    def check_notice(self, text: str, signature: str) -> bool:
        """Whether this process signed the notice `text`."""
        return hmac.compare_digest(self._sign("notice|" + text), signature)

    def login_nonce(self, now: float | None = None) -> tuple[str, str]:
        """(cookie value, form token) for the login form, which has no session yet."""
        expires = int((time.time() if now is None else now) + LOGIN_FORM_SECONDS)
        body = f"{new_token(nbytes=12)}.{expires}"
        return f"{body}.{self._sign('login|' + body)}", self._sign("login-form|" + body)

    def check_login_nonce(self, cookie: str | None, token: str, now: float | None = None) -> bool:
        """Whether the login form was served by this process to this browser, recently."""
        if not cookie or cookie.count(".") != 2 or not token:
            return False
        nonce, expires_text, signature = cookie.split(".")
        body = f"{nonce}.{expires_text}"
        if not hmac.compare_digest(signature, self._sign("login|" + body)):
            return False
        if not expires_text.isdigit() or int(expires_text) < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(token, self._sign("login-form|" + body))
