"""From parsed messages to a durable answer: restrictions, backpressure, prepare, one writer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from trackwell.core.violations import Violation
from trackwell.pipeline.accept import prepare
from trackwell.pipeline.blocked import blocked_input
from trackwell.pipeline.privacy import PrivacyError
from trackwell.quality.compiled import CompiledPlan, SearchBudget
from trackwell.server import privacy_calls
from trackwell.server.auth import Source, check_allowed, key_id
from trackwell.server.backlog import RETRY_AFTER_SECONDS
from trackwell.server.browser import detach_known_visitors, restrict_browser
from trackwell.server.gateway import Gateway
from trackwell.server.privacy_calls import Asked
from trackwell.server.problems import Problem, json_response
from trackwell.server.ratelimit import retry_after
from trackwell.server.refusals import StrictRefusal, count_headers, refuse, strict_requested
from trackwell.server.storeerrors import store_reason
from trackwell.store import Checked, StoreError, StoreUncertainError, Written

T = TypeVar("T")

# A response lists at most this many violations; the counts always cover every message.
MAX_LISTED_VIOLATIONS = 100
# Did-you-mean searches for names not seen before, per request: a batch of thousands of
# invented names costs at most this many searches (about a millisecond each); the others are
# answered without a suggestion (the monitor suggests one later from the counts).
MAX_NEW_SUGGESTIONS = 20
# Requests with more messages than this are prepared on the gateway's preparer thread, so the
# event loop goes on serving other clients meanwhile; smaller ones (most) are cheaper inline.
THREAD_MIN_MESSAGES = 32
YIELD_EVERY = 16


@dataclass(frozen=True, slots=True)
class Unmappable:
    """An item of a batch that could not be turned into a message (kept, blocked, as data)."""

    raw: Any
    path: str
    message: str


def check_sources(source: Source, items: Sequence[Any], *, batch: bool) -> None:
    """403 unless the source's keys may send every one of these messages."""
    if source.types is None and not source.public:
        return  # a server key may send anything: skip the walk on the hot path
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            check_allowed(source, item, index if batch else None)


async def answer(
    request: Request, gateway: Gateway, source: Source, items: Sequence[Any], *, batch: bool
) -> Response:
    """`ingest`, answered: the summary, with the blocked and repaired counts as headers."""
    actor = f"key:{key_id(source, getattr(request.state, 'write_key', None))}"
    body = await ingest(
        gateway, source, items, batch=batch, strict=strict_requested(request), actor=actor
    )
    return json_response(body, headers=count_headers(body))


async def ingest(
    gateway: Gateway,
    source: Source,
    items: Sequence[Any],
    *,
    batch: bool,
    strict: bool = False,
    actor: str | None = None,
) -> dict[str, Any]:
    """Check and durably store a request's messages together; the response body.

    In strict mode (the source's `strict`, or `strict=True` from the request) a request with a
    blocked message is refused whole: every message is kept blocked, so none is delivered and a
    corrected resend is not a duplicate, and a 400 lists the violations.

    Person operations (delete, suppress, unsuppress a person) become privacy requests, made
    before the rest is written and counted as accepted (`privacy_calls`), as `actor` (the key
    that asked: `key:<source>/<hash prefix>`; `key:<source>` when not given).
    """
    check_sources(source, items, batch=batch)
    wait = gateway.limits.take(source.name, len(items))
    if wait > 0:
        raise Problem(
            429,
            "rate_limited",
            f"source '{source.name}' is over its rate limit ({source.rate_limit:g} events/s);"
            f" retry in {retry_after(wait)} s, nothing was stored",
            headers={"Retry-After": retry_after(wait)},
        )
    if gateway.backlog.over():
        raise Problem(
            429,
            "backpressure",
            f"the delivery backlog ({gateway.backlog.size} messages) is above the high-water"
            f" mark ({gateway.backlog.high_water}); retry later, nothing was stored",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    parted = privacy_calls.split(items)
    items, asked = parted.kept, parted.asked
    received = datetime.now(UTC)
    compiled = gateway.plan.compiled
    large = len(items) > THREAD_MIN_MESSAGES
    checked = await _run(gateway, large, prepare_all, compiled, items, received, source.name)
    checked = restrict_browser(compiled.plan, source, checked)
    try:
        checked = await detach_known_visitors(gateway.store, source, checked)
    except StoreError as exc:
        raise _unavailable(exc) from None
    refused = (source.strict or strict) and any(c.verdict == "blocked" for c in checked)
    kept = [refuse(c) for c in checked] if refused else checked
    if asked and not refused:
        await _request_all(gateway, actor or f"key:{source.name}", asked)
    try:
        written = await gateway.writer.write(kept)
    except StoreError as exc:
        raise _unavailable(exc) from None
    summary = await _run(
        gateway, large, _account, gateway, source, (checked, kept, written), compiled
    )
    if refused:
        gateway.metrics.strict_refusals.labels(source.name).inc()
        raise StrictRefusal(summary)
    if asked:
        summary["accepted"] += len(asked)
        for violation in summary["violations"]:
            violation["index"] = parted.positions[violation["index"]]
    return summary


async def _request_all(gateway: Gateway, actor: str, asked: Sequence[Asked]) -> None:
    """Make the privacy requests a request's messages ask for, in order, as `actor`."""
    for one in asked:
        try:
            # An erase is a store transaction (and a checkpoint): off the event loop.
            await asyncio.to_thread(gateway.privacy.request, one.kind, one.person, actor=actor)
        except PrivacyError as exc:
            raise Problem(400, "malformed", str(exc)) from None
        except StoreError as exc:
            raise _unavailable(exc) from None
        gateway.metrics.privacy_requests.labels(one.kind, "messages").inc()


async def _run(gateway: Gateway, large: bool, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)`: for a large request on the preparer thread, so the event loop stays free."""
    if not large:
        return work(*args)
    return await asyncio.get_running_loop().run_in_executor(gateway.preparer, work, *args)


def _account(
    gateway: Gateway,
    source: Source,
    outcome: tuple[Sequence[Checked], Sequence[Checked], Sequence[Written]],
    compiled: CompiledPlan,
) -> dict[str, Any]:
    """The request counted in the metrics (as kept), and its summary (as checked)."""
    checked, kept, written = outcome
    gateway.metrics.record(source.name, kept, written, compiled)
    return summarise(checked, written)


def prepare_all(
    compiled: CompiledPlan, items: Sequence[Any], received: datetime, source: str
) -> list[Checked]:
    """One request's messages prepared, its did-you-mean searches bounded together."""
    budget = SearchBudget(MAX_NEW_SUGGESTIONS)
    checked = []
    for index, item in enumerate(items, 1):
        checked.append(_prepare(compiled, item, received, source, budget))
        if index % YIELD_EVERY == 0:
            # On the preparer thread: hand the interpreter to the event loop now rather than
            # at the next switch interval, so small requests interleave with a large one.
            time.sleep(0)
    return checked


def _unavailable(exc: StoreError) -> Problem:
    """503 with Retry-After: the store failed; nothing of the request was stored, or (a commit
    that got no answer) it may have been, which a resend with the same messageIds makes safe."""
    outcome = (
        "the messages may have been stored; resending them with the same messageId is safe"
        if isinstance(exc, StoreUncertainError)
        else "nothing was stored"
    )
    return Problem(
        503,
        "store_unavailable",
        f"the store cannot take writes right now ({store_reason(exc)}); retry later, {outcome}",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _prepare(
    compiled: CompiledPlan, item: Any, received: datetime, source: str, budget: SearchBudget
) -> Checked:
    """`prepare`, except that no message, however odd, can fail the whole request."""
    if isinstance(item, Unmappable):
        return _blocked(item, received, source)
    try:
        return prepare(compiled, item, received, source=source, budget=budget)
    except (OverflowError, ValueError, TypeError) as exc:
        # e.g. a sentAt/timestamp pair whose clock-skew correction leaves the datetime range
        reason = f"the message cannot be normalised ({type(exc).__name__}: {exc})"
        return _blocked(Unmappable(item, "", reason), received, source)


def summarise(checked: Sequence[Checked], written: Sequence[Written]) -> dict[str, Any]:
    """Counts by verdict, duplicates, and the violations with where they were found."""
    counts = {"accepted": 0, "repaired": 0, "blocked": 0}
    duplicates = 0
    listed: list[dict[str, Any]] = []
    total = 0
    for index, (c, w) in enumerate(zip(checked, written, strict=True)):
        counts[c.verdict] += 1
        duplicates += w.duplicate
        for violation in (*c.violations, *w.identity):
            total += 1
            if len(listed) < MAX_LISTED_VIOLATIONS:
                listed.append(
                    {"index": index, "messageId": c.message.message_id, **violation.to_dict()}
                )
    body: dict[str, Any] = {**counts, "duplicates": duplicates, "violations": listed}
    if total > len(listed):
        body["violationsNotListed"] = total - len(listed)
    return body


def _blocked(item: Unmappable, received: datetime, source: str) -> Checked:
    """An item that is not a message, kept redacted in the blocked table with its reason."""
    violation = Violation("malformed", item.path, item.message, "block")
    return blocked_input(item.raw, violation, received, source=source, named=False)
