"""Jinja2 rendering with autoescape, the console's filters, and live fragments with ETags."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from trackwell.console.auth import Session
from trackwell.core.time import day_label, to_ms

# A fragment of a page that console.js re-fetches while the page is open.
PART_PARAM = "part"


def when(ms: int | float | None) -> str:
    """Milliseconds since the epoch as `2026-03-02 14:00:05 UTC`."""
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def at(ms: int | float | None) -> Markup | str:
    """A moment for a page: the UTC text in a `<time>` that console.js follows with the local
    time and how long ago (the server does not know the reader's zone)."""
    if ms is None:
        return "never"
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return Markup('<time class="at" datetime="{}" data-ms="{}">{}</time>').format(
        moment.isoformat().replace("+00:00", "Z"), int(ms), when(ms)
    )


def day(value: int | None) -> str:
    """Days since the epoch as `2026-03-02`."""
    if value is None:
        return "never"
    return day_label(value)


def iso_ms(value: Any) -> int | None:
    """An ISO-8601 timestamp from a stored message as milliseconds (None when absent)."""
    if not isinstance(value, str):
        return None
    try:
        return to_ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def number(value: float | None) -> str:
    """12345 -> `12,345`; None -> `-`."""
    return "-" if value is None else f"{round(value):,}"


def percent(value: float | None) -> str:
    """0.053 -> `5.3 %`."""
    if value is None:
        return "-"
    return f"{value * 100:.0f} %" if value == 0 or value >= 0.1 else f"{value * 100:.1f} %"


def seconds(value: float | None) -> str:
    """A duration that reads well: `0.25 s`, `12 min`, `3.5 h`."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def pretty(value: Any) -> str:
    """Indented JSON (autoescaped when rendered)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON answer (orjson: fast, and strict about what JSON can carry)."""
    return Response(orjson.dumps(data), status, media_type="application/json")


def build_environment() -> Environment:
    """The console's template environment: every value is HTML-escaped unless marked safe."""
    env = Environment(
        loader=PackageLoader("trackwell.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=at, day=day, number=number, percent=percent, seconds=seconds, pretty=pretty
    )
    env.filters["iso_ms"] = iso_ms
    return env


def with_limit(request: Request, limit: int) -> str:
    """This page's path and query with `limit` set (and no fragment request): a longer list."""
    params = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("limit", PART_PARAM)
    ]
    params.append(("limit", str(limit)))
    return f"{request.url.path}?{urlencode(params)}"


class Renderer:
    """Renders pages with the context every page shares: base path, session, plan, navigation."""

    def __init__(
        self,
        env: Environment,
        csrf: Callable[[Session], str],
        plan_info: Callable[[], dict[str, Any]],
    ) -> None:
        self.env = env
        self._csrf = csrf
        self._plan_info = plan_info

    def html(self, request: Request, template: str, **context: Any) -> str:
        """A template rendered to text."""
        session: Session | None = request.scope.get("console_session")
        shared = {
            "base": request.scope.get("root_path", "").rstrip("/"),
            "csrf": self._csrf(session) if session is not None else "",
            "signed_in": session is not None,
            "path": request.url.path,
            "plan_info": self._plan_info(),
            "request_url_with_limit": lambda limit: with_limit(request, limit),
        }
        return self.env.get_template(template).render(**shared, **context)

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        """A whole page, or just its live fragment when console.js asks for `?part=NAME`."""
        part = request.query_params.get(PART_PARAM)
        if part is None:
            return HTMLResponse(self.html(request, template, **context), status)
        if part not in context.get("parts", ()):  # only a page's own fragments, by name
            return HTMLResponse("no such fragment", 404)
        return self.fragment(request, f"_{part}.html", **context)

    def fragment(self, request: Request, template: str, **context: Any) -> Response:
        """A fragment with an ETag, answered 304 when the browser already has it."""
        text = self.html(request, template, **context)
        tag = '"' + hashlib.blake2b(text.encode(), digest_size=12).hexdigest() + '"'
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers={"ETag": tag})
        return HTMLResponse(text, headers={"ETag": tag})
