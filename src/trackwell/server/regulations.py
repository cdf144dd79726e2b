"""The regulations API: erase, suppress and unsuppress people over HTTP, shaped like Segment's
Public API "Deletion and Suppression" calls (https://docs.segmentapis.com/tag/Deletion-and-Suppression).

`POST /admin/v1/regulations` takes `regulationType`, `subjectType` and `subjectIds` and answers
`{"data": {"regulateId": ...}}`; `GET /admin/v1/regulations/{regulateId}` answers the request with
its `overallStatus` and, per destination, its status and the tool's answer (`streamStatus[].
destinations[]`); `GET /admin/v1/regulations` lists the newest. Behind the admin token
(TRACKWELL_ADMIN_TOKEN) as a bearer token, compared in constant time.

Mapping onto trackwell's requests (`trackwell.core.privacy.RequestKind`):

- `SUPPRESS_WITH_DELETE` and `DELETE_ONLY` -> erase. trackwell's erase always leaves a mark that
  refuses later messages of the person, so `DELETE_ONLY` suppresses too.
- `SUPPRESS_ONLY` -> suppress; `UNSUPPRESS` -> unsuppress.
- The Segment-only types (`DELETE_INTERNAL`, `SUPPRESS_WITH_DELETE_INTERNAL`,
  `DELETE_ARCHIVE_ONLY`) are refused (400): every trackwell request reaches the destinations.

`subjectType` is `USER_ID`, `ANONYMOUS_ID` or `EMAIL` (trackwell resolves any of them to every
identifier the person is known by); `OBJECT_ID` is refused. Segment makes one regulation of all
the `subjectIds` of a call; trackwell makes one request per id (each its own transaction and
receipts) and answers the first as `regulateId`, every one, in order, in `regulateIds`.

Subject ids are never logged: they travel in the body only, and errors name the field, not it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trackwell.core.messages import NUL
from trackwell.core.privacy import PrivacyRequest, Receipt, RequestKind
from trackwell.core.tokens import token_matches
from trackwell.pipeline.privacy import PrivacyError
from trackwell.server.body import check_content_type, parse_json, read_body
from trackwell.server.gateway import Gateway
from trackwell.server.problems import Problem, json_response
from trackwell.store.base import StoreError

PREFIX: Final = "/admin/v1/regulations"
ACTOR: Final = "api"
MAX_BODY_BYTES: Final = 256 * 1024
# Segment takes up to 5,000 ids a call; each trackwell erase is a transaction of its own, so a
# call is kept to what answers in seconds.
MAX_SUBJECTS: Final = 100
MAX_SUBJECT_LENGTH: Final = 255
DEFAULT_COUNT: Final = 50
MAX_COUNT: Final = 200
KINDS: Final[Mapping[str, RequestKind]] = {
    "SUPPRESS_WITH_DELETE": "erase",
    "DELETE_ONLY": "erase",
    "SUPPRESS_ONLY": "suppress",
    "UNSUPPRESS": "unsuppress",
}
SEGMENT_ONLY: Final = frozenset(
    ["DELETE_INTERNAL", "SUPPRESS_WITH_DELETE_INTERNAL", "DELETE_ARCHIVE_ONLY"]
)
SUBJECT_TYPES: Final = ("USER_ID", "ANONYMOUS_ID", "EMAIL")
# The type a request of each kind is shown as when read back.
REGULATION_TYPES: Final[Mapping[str, str]] = {
    "erase": "SUPPRESS_WITH_DELETE",
    "suppress": "SUPPRESS_ONLY",
    "unsuppress": "UNSUPPRESS",
}
# A destination's receipt in Segment's words (the trackwell status rides along as `trackwellStatus`).
DESTINATION_STATUSES: Final = {
    "done": "FINISHED",
    "captured": "FINISHED",
    "failed": "FAILED",
    "not_supported": "NOT_SUPPORTED",
}
CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="admin"'}
TOKEN_HELP = "send the admin token (TRACKWELL_ADMIN_TOKEN) as `Authorization: Bearer <token>`"


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _authorise(request: Request, gateway: Gateway) -> None:
    """401 unless the request carries the admin token as a bearer token."""
    expected = gateway.settings.admin_token_hash
    if expected is None:
        raise Problem(
            401,
            "unauthorized",
            "the regulations API is off: no admin token is configured (TRACKWELL_ADMIN_TOKEN)",
            headers=CHALLENGE,
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", f"no admin token: {TOKEN_HELP}", headers=CHALLENGE)
    if not token_matches(token.strip(), expected):
        raise Problem(401, "unauthorized", "invalid admin token", headers=CHALLENGE)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def overall_status(request: PrivacyRequest) -> str:
    """The request's status in Segment's words."""
    statuses = [r.status for r in request.receipts]
    if request.status == "pending":
        started = any(r.status != "pending" or r.attempts for r in request.receipts)
        return "RUNNING" if started else "INITIALIZED"
    if request.status == "failed":
        return "PARTIAL_SUCCESS" if any(s in ("done", "captured") for s in statuses) else "FAILED"
    if statuses and all(s == "not_supported" for s in statuses):
        # Done in the store, but no destination could take it: Segment's NOT_SUPPORTED.
        return "NOT_SUPPORTED"
    return "FINISHED"


def _destination(receipt: Receipt) -> dict[str, Any]:
    status = DESTINATION_STATUSES.get(receipt.status)
    if status is None:
        status = "IN_PROGRESS" if receipt.attempts else "INITIALIZED"
    settled = receipt.status != "pending"
    return {
        "id": receipt.destination,
        "name": receipt.destination,
        "status": status,
        "trackwellStatus": receipt.status,
        "attempts": receipt.attempts,
        "finishedAt": _iso(receipt.updated_ms) if settled else None,
        "errString": receipt.detail if receipt.status in ("failed", "not_supported") else None,
        "detail": receipt.detail,
    }


def regulation(request: PrivacyRequest) -> dict[str, Any]:
    """One request as the API shows it: never the person's identifiers, only how many."""
    return {
        "id": request.id,
        "overallStatus": overall_status(request),
        "regulationType": REGULATION_TYPES[request.kind],
        "kind": request.kind,
        "createdAt": _iso(request.created_ms),
        "finishedAt": _iso(request.finished_ms),
        "actor": request.actor,
        "identifiers": request.identifiers,
        "erased": dict(request.erased),
        # Segment groups destinations under the source ("stream") they are connected to;
        # trackwell's destinations all take every source's messages: one stream.
        "streamStatus": [
            {
                "id": "trackwell",
                "status": overall_status(request),
                "destinations": [_destination(r) for r in request.receipts],
            }
        ],
    }


def _subjects(body: Mapping[str, Any]) -> tuple[RequestKind, list[str]]:
    """The request's kind and subject ids; a 400 naming the field at fault."""
    kind_name = body.get("regulationType")
    if kind_name in SEGMENT_ONLY:
        raise Problem(
            400,
            "not_supported",
            f"{kind_name} deletes inside Segment only; trackwell's requests always reach the"
            " destinations: use SUPPRESS_WITH_DELETE, DELETE_ONLY, SUPPRESS_ONLY or UNSUPPRESS",
            "regulationType",
        )
    if not isinstance(kind_name, str) or kind_name not in KINDS:
        raise Problem(400, "malformed", f"expected one of {', '.join(KINDS)}", "regulationType")
    subject_type = body.get("subjectType")
    if subject_type not in SUBJECT_TYPES:
        raise Problem(
            400, "malformed", f"expected one of {', '.join(SUBJECT_TYPES)}", "subjectType"
        )
    ids = body.get("subjectIds")
    if not isinstance(ids, list) or not ids:
        raise Problem(400, "malformed", "expected a non-empty array of ids", "subjectIds")
    if len(ids) > MAX_SUBJECTS:
        raise Problem(
            400, "too_large", f"at most {MAX_SUBJECTS} ids a call ({len(ids)} given)", "subjectIds"
        )
    for index, value in enumerate(ids):
        # The id itself is never repeated back: it names a person.
        if not isinstance(value, str) or not value.strip():
            raise Problem(400, "malformed", "expected a non-empty string", f"subjectIds[{index}]")
        if len(value) > MAX_SUBJECT_LENGTH or NUL in value:
            raise Problem(
                400,
                "malformed",
                f"an id has at most {MAX_SUBJECT_LENGTH} characters and no NUL",
                f"subjectIds[{index}]",
            )
    return KINDS[kind_name], [value.strip() for value in ids]


async def create(request: Request) -> Response:
    """POST: one request per subject id; `regulateId` is the first's."""
    gateway = _gateway(request)
    _authorise(request, gateway)
    check_content_type(request)
    body = parse_json(await read_body(request, MAX_BODY_BYTES))
    if not isinstance(body, dict):
        raise Problem(400, "invalid_json", "expected a JSON object at the top level")
    kind, subjects = _subjects(body)
    made: list[str] = []
    for index, person in enumerate(subjects):
        try:
            # The erase is one store transaction (and a checkpoint): off the event loop.
            found = await asyncio.to_thread(gateway.privacy.request, kind, person, actor=ACTOR)
            gateway.metrics.privacy_requests.labels(kind, "api").inc()
        except PrivacyError as exc:
            done = f" (made before it: {', '.join(made)})" if made else ""
            raise Problem(400, "malformed", f"{exc}{done}", f"subjectIds[{index}]") from None
        except StoreError:
            done = f"; made before it: {', '.join(made)}" if made else ""
            raise Problem(
                503,
                "store_unavailable",
                f"the store cannot take the request right now; retry later{done}",
                headers={"Retry-After": "5"},
            ) from None
        made.append(found.id)
    return json_response({"data": {"regulateId": made[0], "regulateIds": made}})


async def read(request: Request) -> Response:
    """GET one: the request with its per-destination status; 404 for an unknown id."""
    gateway = _gateway(request)
    _authorise(request, gateway)
    regulate_id = request.path_params["regulateId"]
    found = await asyncio.to_thread(gateway.privacy.status, regulate_id)
    if found is None:
        raise Problem(404, "not_found", f"no regulation {regulate_id[:64]!r}", "regulateId")
    return json_response({"data": {"regulation": regulation(found)}})


async def listing(request: Request) -> Response:
    """GET the newest requests (`pagination.count`, at most MAX_COUNT)."""
    gateway = _gateway(request)
    _authorise(request, gateway)
    text = request.query_params.get("pagination.count", str(DEFAULT_COUNT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise Problem(
            400, "malformed", f"expected a count from 1 to {MAX_COUNT}", "pagination.count"
        )
    found = await asyncio.to_thread(gateway.privacy.requests, int(text))
    return json_response(
        {
            "data": {
                "regulations": [regulation(r) for r in found],
                "pagination": {"count": len(found)},
            }
        }
    )


def routes() -> list[BaseRoute]:
    """The regulations routes."""
    return [
        Route(PREFIX, create, methods=["POST"]),
        Route(PREFIX, listing, methods=["GET"]),
        Route(PREFIX + "/{regulateId}", read, methods=["GET"]),
    ]
