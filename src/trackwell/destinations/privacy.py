"""Privacy requests at the tools: the calls a destination makes for an erase, suppress or
unsuppress, sent in order, and what the tool's answers come to (`PrivacyAnswer`).

The rule is the deliveries' (`retry.py`): 2xx done; 408, 429, 5xx and no answer retried with
the tool's `Retry-After`; any other 4xx failed with the tool's own words. In capture mode every
call is recorded in the `CaptureTransport` and nothing is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from trackwell.core.ids import new_message_id
from trackwell.core.messages import format_time
from trackwell.core.operations import USER_DELETED, USER_SUPPRESSED, USER_UNSUPPRESSED
from trackwell.core.outcomes import Outcome
from trackwell.core.privacy import RequestKind
from trackwell.destinations.base import Destination, PrivacyAnswer
from trackwell.destinations.common import tool_error
from trackwell.destinations.http import HttpRequest, HttpResponse, TransportError
from trackwell.destinations.retry import retry_after_seconds

# The person operation (Customer.io's semantic event) that performs each request kind.
OPERATION_OF: dict[RequestKind, str] = {
    "erase": USER_DELETED,
    "suppress": USER_SUPPRESSED,
    "unsuppress": USER_UNSUPPRESSED,
}
CAPTURED_DETAIL = "capture mode: the request was recorded, not sent"
# A namespace for ids derived from a privacy request, so a retry repeats them.
_NAMESPACE = uuid.UUID("5d0f3c2e-8a61-4b7e-9a43-7f1e2b6c0d91")


@dataclass(frozen=True, slots=True)
class PrivacyCall:
    """One request of a privacy request, and how to read the tool's 2xx answer to it (the
    detail to report, or a `failed` answer when the body says the tool refused)."""

    request: HttpRequest
    read: Callable[[HttpResponse], PrivacyAnswer] | None = None


def answer_of(response: HttpResponse) -> PrivacyAnswer:
    """A response by its status: done, retry (with Retry-After) or failed (the tool's words)."""
    if 200 <= response.status < 300:
        return PrivacyAnswer("done", f"HTTP {response.status}")
    error = tool_error(response)
    text = f"HTTP {response.status}: {error}" if error else f"HTTP {response.status}"
    if response.status in (408, 429) or response.status >= 500:
        return PrivacyAnswer("retry", text, retry_after_seconds(response.headers))
    return PrivacyAnswer("failed", text)


def carry_out(
    destination: Destination, calls: Sequence[PrivacyCall], note: str = ""
) -> PrivacyAnswer:
    """Send the calls in order and stop at the first that is not done; every call done is
    `done`, its details joined (and `note`, e.g. what the tool keeps, appended).

    Each call is idempotent at the tool, so a retry may send the ones already done again."""
    if destination.capture:
        for call in calls:
            destination.transport.send(call.request, destination.timeout)
        return PrivacyAnswer("captured", _joined([CAPTURED_DETAIL, note]))
    details: list[str] = []
    for call in calls:
        try:
            response = destination.transport.send(call.request, destination.timeout)
        except TransportError as exc:
            return PrivacyAnswer("retry", f"no response ({exc})")
        answer = answer_of(response)
        if answer.status == "done" and call.read is not None:
            answer = call.read(response)
        if answer.status != "done":
            return answer
        details.append(answer.detail or "")
    return PrivacyAnswer("done", _joined([*dict.fromkeys(details), note]))


def from_outcomes(outcomes: Sequence[Outcome], done: str, note: str = "") -> PrivacyAnswer:
    """The answer of a privacy request carried out as deliveries (operations the tool performs):
    failed if any was refused, else retry if any is to be retried, else captured or done."""
    dead = [o for o in outcomes if o.kind == "dead"]
    if dead:
        return PrivacyAnswer("failed", dead[0].error)
    retries = [o for o in outcomes if o.kind == "retry"]
    if retries:
        waits = [o.retry_after for o in retries if o.retry_after is not None]
        return PrivacyAnswer("retry", retries[0].error, max(waits) if waits else None)
    if any(o.kind == "captured" for o in outcomes):
        return PrivacyAnswer("captured", _joined([CAPTURED_DETAIL, note]))
    return PrivacyAnswer("done", _joined([done, note]))


def operation_messages(
    kind: RequestKind, user_ids: Sequence[str], request_id: str | None
) -> list[dict[str, object]]:
    """The person operation of `kind` for each user id, as stored (wire-form) track messages.

    Their message ids derive from the request id when there is one, so a retried request is
    the same message to a tool that de-duplicates."""
    now = format_time(datetime.now(UTC))
    event = OPERATION_OF[kind]
    return [
        {
            "type": "track",
            "event": event,
            "userId": user_id,
            "messageId": _message_id(request_id, kind, user_id),
            "timestamp": now,
            "properties": {},
            "context": {},
        }
        for user_id in user_ids
    ]


def _message_id(request_id: str | None, kind: str, user_id: str) -> str:
    if request_id is None:
        return new_message_id()
    return str(uuid.uuid5(_NAMESPACE, f"{request_id}\x00{kind}\x00{user_id}"))


def people(count: int) -> str:
    """`1 person id` / `3 person ids`: how many identifiers a call named (never which)."""
    return f"{count} person id" + ("" if count == 1 else "s")


def _joined(parts: Sequence[str]) -> str:
    return "; ".join(part for part in parts if part)
