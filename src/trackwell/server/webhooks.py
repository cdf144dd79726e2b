"""The outcome webhooks: what the tools did with trackwell's messages, received and stored.

`POST /webhooks/customerio` takes Customer.io's reporting webhooks (`server/cio_reports.py`),
`POST /webhooks/outcomes/{source}` any tool's signed outcome reports (`server/outcome_reports.py`);
keys and signatures are in `server/webhook_keys.py`.

Customer.io gives a call 4 seconds, retries a failed one for seven days and holds every later
call back until it succeeds (https://customer.io/docs/api/webhooks/#section/Timeouts-and-failures).
So the receiver is quick (one small transaction, straight to the store rather than through the
message writer's batches), answers 200 only once the report is committed, 503 when the store
cannot take it (Customer.io tries again; nothing is lost), and 200 again for a report already
stored (the retry of a call whose answer was lost): idempotent on the report's event id. What a
report says is never a reason to refuse it (see `cio_reports`); only a bad signature is (401),
or a body that is not JSON at all (400).

Bodies, identifiers and keys are never logged; the access log has the path and status only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from trackwell.core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from trackwell.server import cio_reports, outcome_reports
from trackwell.server.body import parse_json, read_body
from trackwell.server.gateway import Gateway
from trackwell.server.problems import Problem, json_response
from trackwell.server.storeerrors import store_reason
from trackwell.server.webhook_keys import (
    CUSTOMERIO_KEY_ENV,
    SOURCE_NAME,
    Verdict,
    outcomes_env,
    verify_customerio,
    verify_trackwell,
)
from trackwell.store.base import OutcomeReport, RecordedReports, StoreError

CUSTOMERIO_PATH: Final = "/webhooks/customerio"
OUTCOMES_PATH: Final = "/webhooks/outcomes/{source}"
CIO_SIGNATURE: Final = "x-cio-signature"
CIO_TIMESTAMP: Final = "x-cio-timestamp"
# A "sent" report with the message's content (Customer.io's Body Content option) may carry a
# whole email; several megabytes would be something else.
MAX_BODY_BYTES: Final = 4 * 1024 * 1024
# Reports a call may carry (an array); Customer.io sends one.
MAX_REPORTS: Final = 1000
# The metrics Customer.io documents (https://customer.io/docs/api/webhooks/); any other is
# counted as `(other)` so a metric label cannot grow without bound.
KNOWN_METRICS: Final = frozenset(
    [
        "attempted",
        "bounced",
        "clicked",
        "converted",
        "delivered",
        "drafted",
        "dropped",
        "failed",
        "opened",
        "sent",
        "spammed",
        "subscribed",
        "undeliverable",
        "unsubscribed",
        "cio_subscription_preferences_changed",
    ]
)
OTHER_METRIC: Final = "(other)"
_WHY: Final[dict[Verdict, str]] = {
    "missing": "the request is not signed",
    "malformed": "the timestamp header is not Unix seconds",
    "expired": "the signature's timestamp is outside the replay window (5 minutes)",
    "forged": "the signature does not match the body",
}


def _gateway(request: Request) -> Gateway:
    """The gateway the app was built over."""
    gateway: Gateway = request.app.state.gateway
    return gateway


def _metric_label(metric: str) -> str:
    """The metric as a Prometheus label: a documented one, else `(other)`."""
    return metric if metric in KNOWN_METRICS else OTHER_METRIC


def _count(gateway: Gateway, source: str, metrics: Sequence[str], result: str) -> None:
    """Count one result per report (by its metric)."""
    counter = gateway.metrics.outcome_reports
    for metric in metrics:
        counter.labels(source, _metric_label(metric), result).inc()


async def _receive(
    request: Request,
    *,
    label: str,
    keys: tuple[str, ...],
    env: str,
    verify: Callable[[tuple[str, ...], bytes, str | None, str | None, float], Verdict],
    headers: tuple[str, str],
    parse: Callable[[Any, int], list[OutcomeReport]],
) -> Response:
    """Verify, read and store one call; the answer says what was stored."""
    gateway = _gateway(request)
    if not keys:
        _count(gateway, label, [""], "refused")
        raise Problem(401, "unauthorized", f"this receiver is off: set {env} to its signing key")
    body = await read_body(request, MAX_BODY_BYTES)
    verdict = verify(
        keys, body, request.headers.get(headers[0]), request.headers.get(headers[1]), time.time()
    )
    if verdict != "ok":
        _count(gateway, label, [""], "refused")
        raise Problem(401, "unauthorized", _WHY[verdict])
    document = parse_json(body)
    now_ms = int(time.time() * 1000)
    reports = parse(document, now_ms)
    if len(reports) > MAX_REPORTS:
        raise Problem(413, "too_large", f"at most {MAX_REPORTS} reports a call ({len(reports)})")
    metrics = [report.metric for report in reports]
    try:
        # One small transaction, off the event loop; answered only once committed.
        done: RecordedReports = await asyncio.to_thread(
            gateway.store.record_reports, reports, now_ms
        )
    except StoreError as exc:
        _count(gateway, label, metrics, "failed")
        raise Problem(
            503,
            "store_unavailable",
            f"the report was not stored ({store_reason(exc)}); send it again",
            headers={"Retry-After": "5"},
        ) from None
    for metric, result in zip(metrics, done.results, strict=True):
        _count(gateway, label, [metric], result)
    return json_response(
        {
            "received": len(reports),
            "stored": done.stored,
            "duplicates": done.duplicates,
            "dropped": done.dropped,
            "linked": done.linked,
        }
    )


async def customerio(request: Request) -> Response:
    """POST: Customer.io's reporting webhook."""
    return await _receive(
        request,
        label=cio_reports.SOURCE,
        keys=_gateway(request).settings.webhook_keys.customerio,
        env=CUSTOMERIO_KEY_ENV,
        verify=verify_customerio,
        headers=(CIO_TIMESTAMP, CIO_SIGNATURE),
        parse=cio_reports.reports_of,
    )


async def outcomes(request: Request) -> Response:
    """POST: another tool's outcome reports, signed as trackwell signs its webhooks."""
    source = request.path_params["source"]
    if not SOURCE_NAME.fullmatch(source):
        raise Problem(
            404, "not_found", "a source is lower-case letters, digits, `-` and `_`", "source"
        )
    keys = _gateway(request).settings.webhook_keys.for_source(source)
    return await _receive(
        request,
        label=outcome_reports.SOURCE_PREFIX + source if keys else "webhook:(unknown)",
        keys=keys,
        env=outcomes_env(source),
        verify=verify_trackwell,
        headers=(TIMESTAMP_HEADER, SIGNATURE_HEADER),
        parse=lambda document, now_ms: outcome_reports.reports_of(source, document, now_ms),
    )


def routes() -> list[BaseRoute]:
    """The outcome webhook routes."""
    return [
        Route(CUSTOMERIO_PATH, customerio, methods=["POST"]),
        Route(OUTCOMES_PATH, outcomes, methods=["POST"]),
    ]
