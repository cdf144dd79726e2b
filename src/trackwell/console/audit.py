"""The audit log: reading it (a page and its JSON twin) and appending the console's own actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from trackwell.console.auth import Session
from trackwell.console.context import Console, console
from trackwell.console.templating import json_response
from trackwell.core.privacy import AuditEntry
from trackwell.pipeline.audit import entry_document
from trackwell.pipeline.audit import record as record

PAGE_SIZE = 50
# The actions the filter offers; any other value is still taken (a new action needs no release).
ACTIONS = (
    "erase", "suppress", "unsuppress", "replay", "key_added", "key_rotated", "key_revoked",
    "plan_reloaded", "console_login", "console_login_failed", "retention",
)  # fmt: skip
# A console session's actor: a prefix of its id is enough to tell sessions apart, and the id
# itself (from which CSRF tokens derive) is not handed to every reader of the log.
SESSION_PREFIX = 12


def session_actor(session: Session | None) -> str:
    """Who a console action is recorded as: `console:<session id prefix>`, or `console`."""
    return f"console:{session.sid[:SESSION_PREFIX]}" if session is not None else "console"


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    """One entry as pages and the API show it."""
    return {
        "id": entry.id,
        "at_ms": entry.at_ms,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "detail": dict(entry.detail),
    }


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def audit_view(
    c: Console,
    action: str | None,
    before: int | None,
    shown: Callable[[AuditEntry], dict[str, Any]] = entry_view,
) -> dict[str, Any]:
    """A page of entries, newest first, and where the next (older) page starts; `shown` makes
    each entry's dict (the page's view, or the JSON document the API shares with the CLI)."""
    entries = c.store.audit_entries(limit=PAGE_SIZE, before_id=before, action=action)
    older = entries[-1].id if len(entries) == PAGE_SIZE else None
    return {
        "entries": [shown(e) for e in entries],
        "action": action,
        "before": before,
        "older": older,
        "actions": ACTIONS,
    }


def _query(request: Request) -> tuple[str | None, int | None]:
    action = request.query_params.get("action") or None
    return action, _int(request.query_params.get("before"))


def audit_page(request: Request) -> Response:
    """The audit log, newest first, filtered by action, a page at a time."""
    c = console(request)
    action, before = _query(request)
    view = audit_view(c, action, before)
    older_query = (
        urlencode({**({"action": action} if action else {}), "before": view["older"]})
        if view["older"] is not None
        else None
    )
    return c.renderer.page(request, "audit.html", view=view, older_query=older_query)


def api_audit(request: Request) -> Response:
    """JSON: a page of the audit log (`action` and `before` as on the page), each entry as
    `trackwell audit-log --json` shows it."""
    action, before = _query(request)
    return json_response(audit_view(console(request), action, before, entry_document))
