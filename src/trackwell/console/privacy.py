"""Privacy: erase, suppress and unsuppress a person, and every request's per-destination receipts.

A person's identifier travels only in POST bodies (the form, then its confirmation), never in a
URL, so no access log or browser history keeps it; the request's page is named by its id."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trackwell.console.audit import session_actor
from trackwell.console.context import Console, console
from trackwell.console.paging import Window
from trackwell.console.templating import json_response
from trackwell.core.messages import NUL
from trackwell.core.privacy import REQUEST_KINDS, PrivacyRequest, RequestKind
from trackwell.pipeline.privacy import PrivacyError, request_document
from trackwell.store.base import StoreError

REQUESTS_SHOWN = 100
REQUESTS_CAP = 2000
MAX_PERSON_LENGTH = 255
# What each kind does, as the form and its confirmation say it.
EXPLAINED = {
    "erase": "remove everything stored about the person, here and in every destination that can"
    " delete, and refuse anything new about them for good",
    "suppress": "stop taking and delivering anything new about the person, keeping what is stored",
    "unsuppress": "lift a suppression (an erased person stays erased)",
}


def request_view(request: PrivacyRequest) -> dict[str, Any]:
    """One request as pages and the API show it (never the person's identifiers)."""
    return {
        "id": request.id,
        "kind": request.kind,
        "status": request.status,
        "created_ms": request.created_ms,
        "finished_ms": request.finished_ms,
        "actor": request.actor,
        "identifiers": request.identifiers,
        "erased": dict(request.erased),
        "receipts": [
            {
                "destination": r.destination,
                "status": r.status,
                "attempts": r.attempts,
                "updated_ms": r.updated_ms,
                "detail": r.detail,
            }
            for r in request.receipts
        ],
    }


def requests_view(c: Console, window: Window | None = None) -> dict[str, Any]:
    """The newest requests first (`window` long), with their receipts."""
    window = window or Window(REQUESTS_SHOWN, REQUESTS_CAP)
    found = c.store.privacy_requests(limit=window.limit)
    return {
        "requests": [request_view(r) for r in found],
        "kinds": REQUEST_KINDS,
        "page": window.describe(len(found)),
    }


def privacy_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    """The requests made so far, and the form to make one."""
    c = console(request)
    return c.renderer.page(
        request,
        "privacy.html",
        status,
        view=requests_view(c, Window.of(request, REQUESTS_SHOWN, REQUESTS_CAP)),
        error=error,
        explained=EXPLAINED,
        available=c.privacy is not None,
    )


def _person(form: dict[str, str]) -> tuple[RequestKind | None, str, str | None]:
    """(kind, person, what is wrong) from a posted form."""
    kind = form.get("kind", "")
    person = form.get("person", "").strip()
    if kind not in REQUEST_KINDS:
        return None, person, "Choose erase, suppress or unsuppress."
    if not person:
        return None, person, "Give the person's user id, anonymous id or email."
    if len(person) > MAX_PERSON_LENGTH or NUL in person:
        return None, person, f"An identifier has at most {MAX_PERSON_LENGTH} characters, no NUL."
    return kind, person, None  # type: ignore[return-value]


def privacy_confirm(request: Request) -> Response:
    """The confirmation step: what will happen to whom (the form's POST, CSRF-checked)."""
    c = console(request)
    kind, person, error = _person(request.scope.get("console_form") or {})
    if kind is None:
        return privacy_page(request, error, 400)
    return c.renderer.page(
        request, "privacy_confirm.html", kind=kind, person=person, explained=EXPLAINED[kind]
    )


def privacy_create(request: Request) -> Response:
    """Make the request (after the confirmation) and show its page."""
    c = console(request)
    kind, person, error = _person(request.scope.get("console_form") or {})
    if kind is None:
        return privacy_page(request, error, 400)
    if c.privacy is None:
        return privacy_page(request, "Privacy requests cannot be made from this console.", 503)
    try:
        made = c.privacy.request(
            kind, person, actor=session_actor(request.scope.get("console_session"))
        )
    except PrivacyError as exc:
        return privacy_page(request, f"{str(exc).capitalize()}.", 400)
    except StoreError as exc:
        return privacy_page(request, f"The store refused the request: {type(exc).__name__}.", 503)
    base = request.scope.get("root_path", "")
    return RedirectResponse(f"{base}/privacy/{quote(made.id, safe='')}", 303)


def _found(c: Console, request_id: str) -> PrivacyRequest | None:
    return c.store.privacy_request(request_id)


def request_page(request: Request) -> Response:
    """One request: its kind, who asked, what was erased here, and each destination's receipt."""
    c = console(request)
    request_id = request.path_params["request_id"]
    found = _found(c, request_id)
    if found is None:
        return c.renderer.page(request, "missing.html", 404, what="request", name=request_id)
    return c.renderer.page(request, "privacy_request.html", view=request_view(found))


def api_privacy(request: Request) -> Response:
    """JSON: the newest requests with their receipts, each as `trackwell privacy list --json`
    shows it (the page's view keeps milliseconds for its own formatting)."""
    window = Window.of(request, REQUESTS_SHOWN, REQUESTS_CAP)
    found = console(request).store.privacy_requests(limit=window.limit)
    return json_response({"requests": [request_document(r) for r in found], "kinds": REQUEST_KINDS})


def api_request(request: Request) -> Response:
    """JSON: one request with its receipts, as `trackwell privacy status --json` shows it (404
    for an unknown id)."""
    request_id = request.path_params["request_id"]
    found = _found(console(request), request_id)
    if found is None:
        return json_response(
            {"code": "not_found", "message": f"no privacy request {request_id[:64]!r}"}, 404
        )
    return json_response(request_document(found))
