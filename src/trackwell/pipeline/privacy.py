"""Privacy requests: erase, suppress or unsuppress a person, and carry each request to every tool.

`PrivacyService` is what every face calls (the CLI, the HTTP API, the console): it checks the
person string, resolves it through the store to every identifier the person is known by, and
has the store carry out the request in one transaction (for an erase: remove everything, leave a
tombstone per identifier hash, queue a job per destination). A request is named by an id,
`prv_<UUIDv7>`, which sorts by creation time.

`PrivacyWorker` propagates the queued jobs to the tools, one destination at a time: each job is
handed to `Destination.privacy`, and its answer settled in the store — done, captured, not
supported, failed for good, or retried with the delivery retry policy (`pipeline/retry.py`), so
a tool that is down gets the request once it is back, and one that never comes back ends
`failed` with its last answer after the attempt limit. The router runs it in each destination's
worker thread, before deliveries; the CLI runs it in the foreground (`propagate`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from trackwell.core.ids import new_message_id
from trackwell.core.messages import MAX_ID_LENGTH
from trackwell.core.outcomes import Outcome
from trackwell.core.privacy import REQUEST_KINDS, PrivacyJob, PrivacyRequest, RequestKind
from trackwell.core.time import iso_seconds
from trackwell.destinations.base import Destination, PrivacyAnswer
from trackwell.pipeline.retry import RetryPolicy
from trackwell.store.base import Privacy

log = logging.getLogger("trackwell.privacy")

REQUEST_PREFIX: Final = "prv_"
MAX_PERSON_LENGTH: Final = MAX_ID_LENGTH
MAX_ACTOR_LENGTH: Final = 200
JOBS_PER_CLAIM: Final = 10


class PrivacyError(ValueError):
    """A request that cannot be made: an unusable person string, kind or actor."""


def check_person(person: str) -> str:
    """The person string as given (ids are compared exactly), or PrivacyError saying why not."""
    if not isinstance(person, str) or not person.strip():
        raise PrivacyError("name a person: a user id, an anonymous id or an email")
    if "\x00" in person:
        # Ids are keys for the store and every tool; PostgreSQL text cannot hold a NUL.
        raise PrivacyError("a person identifier may not contain a NUL character")
    if len(person) > MAX_PERSON_LENGTH:
        raise PrivacyError(f"a person identifier is at most {MAX_PERSON_LENGTH} characters")
    return person


def new_request_id() -> str:
    """A new request id: `prv_` and a UUIDv7, so ids sort by creation time."""
    return REQUEST_PREFIX + new_message_id()


def is_request_id(text: str) -> bool:
    """Whether `text` has the shape of a request id (the faces answer 404 otherwise)."""
    body = text[len(REQUEST_PREFIX) :]
    return (
        text.startswith(REQUEST_PREFIX)
        and len(body) == 36
        and all(c in "0123456789abcdef-" for c in body)
    )


class PrivacyService:
    """Makes privacy requests and reads where they stand; the faces' one entry point."""

    def __init__(
        self,
        store: Privacy,
        destinations: Sequence[str],
        *,
        after_erase: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        # Every configured destination gets a job (and so a receipt) for every request.
        self.destinations = tuple(dict.fromkeys(destinations))
        # What the faces clear beyond the store once the marks exist (the SDK's leftover spill
        # files, written through the edge); a failure is logged, the erase stands.
        self.after_erase = after_erase

    def request(
        self, kind: RequestKind, person: str, *, actor: str, now_ms: int | None = None
    ) -> PrivacyRequest:
        """Erase, suppress or unsuppress `person` (a user id, an anonymous id or an email):
        done in the store at once, queued for each destination. Raises PrivacyError for an
        unusable person, kind or actor, and StoreError when the store fails."""
        if kind not in REQUEST_KINDS:
            raise PrivacyError(f"unknown request kind {kind!r}; expected one of {REQUEST_KINDS}")
        if not actor or len(actor) > MAX_ACTOR_LENGTH or "\x00" in actor:
            raise PrivacyError("a request needs an actor (who asked), of at most 200 characters")
        subject = self.store.resolve(check_person(person))
        at = int(time.time() * 1000) if now_ms is None else now_ms
        carry_out = {
            "erase": self.store.erase,
            "suppress": self.store.suppress,
            "unsuppress": self.store.unsuppress,
        }[kind]
        request = carry_out(
            subject,
            request_id=new_request_id(),
            actor=actor,
            destinations=self.destinations,
            now_ms=at,
        )
        # The log line names the request, never the person.
        log.info(
            "privacy request",
            extra={"fields": {"request": request.id, "kind": kind, "actor": actor}},
        )
        if kind == "erase" and self.after_erase is not None:
            try:
                self.after_erase()
            except Exception as exc:  # the erase is done; what follows must not undo the answer
                log.error(
                    "after the erase",
                    extra={"fields": {"request": request.id, "error": type(exc).__name__}},
                )
        return request

    def status(self, request_id: str) -> PrivacyRequest | None:
        """One request with its receipts; None for an unknown (or malformed) id."""
        if not is_request_id(request_id):
            return None
        return self.store.privacy_request(request_id)

    def requests(self, limit: int = 100) -> list[PrivacyRequest]:
        """The newest requests first."""
        return self.store.privacy_requests(limit=max(1, min(limit, 1000)))


def request_document(request: PrivacyRequest) -> dict[str, Any]:
    """A request as JSON (the CLI's `--json`; the HTTP API and console show the same fields):
    overall status, times, who asked, how many identifiers, rows erased per table, and one
    receipt per destination. Never the identifiers themselves."""
    finished = request.finished_ms
    return {
        "id": request.id,
        "kind": request.kind,
        "status": request.status,
        "created_at": iso_seconds(request.created_ms),
        "finished_at": None if finished is None else iso_seconds(finished),
        "actor": request.actor,
        "identifiers": request.identifiers,
        "erased": dict(request.erased),
        "destinations": [
            {
                "name": receipt.destination,
                "status": receipt.status,
                "attempts": receipt.attempts,
                "updated_at": iso_seconds(receipt.updated_ms),
                "detail": receipt.detail,
            }
            for receipt in request.receipts
        ],
    }


def settlement(
    job: PrivacyJob, answer: PrivacyAnswer, policy: RetryPolicy, now: float
) -> tuple[str, str | None, int | None]:
    """(status, detail, next_ms) to record for one job's answer (pure, tested as a table).

    A retryable answer is retried like a delivery: the tool's Retry-After, else the policy's
    backoff, and `failed` with the tool's last answer once the attempts run out."""
    if answer.status != "retry":
        return answer.status, answer.detail, None
    attempts = job.attempts + 1
    decision = policy.after(Outcome("retry", answer.detail, answer.retry_after), attempts)
    if decision.dead:
        return "failed", decision.reason, None
    return "retry", answer.detail, int((now + decision.wait) * 1000)


class PrivacyWorker:
    """Propagates pending privacy jobs to the destinations' tools."""

    def __init__(
        self,
        store: Privacy,
        destinations: Sequence[Destination],
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self.store = store
        self.destinations: Mapping[str, Destination] = {d.name: d for d in destinations}
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.on_error = on_error

    def run_once(self, name: str, limit: int = JOBS_PER_CLAIM) -> int:
        """Claim the destination's due jobs, ask its tool, settle each; returns how many."""
        destination = self.destinations[name]
        jobs = self.store.claim_privacy_jobs(name, int(self.clock() * 1000), limit)
        for job in jobs:
            answer = self._ask(destination, job)
            now = self.clock()
            status, detail, next_ms = settlement(job, answer, self.policy, now)
            self.store.settle_privacy_job(
                job.request_id,
                name,
                status,
                detail=detail,
                next_ms=next_ms,
                now_ms=int(now * 1000),
            )
        return len(jobs)

    def drain(self, name: str) -> int:
        """Handle the destination's jobs until none is due; returns how many were handled."""
        total = 0
        while (handled := self.run_once(name)) > 0:
            total += handled
        return total

    def propagate(
        self,
        request_id: str,
        *,
        progress: Callable[[PrivacyRequest], None] | None = None,
        poll: float = 0.2,
        stop: Callable[[], bool] = lambda: False,
    ) -> PrivacyRequest | None:
        """Run every destination's jobs in the foreground until `request_id` has settled
        everywhere (or `stop()`); returns the request as it then stands."""
        while True:
            for name in self.destinations:
                self.drain(name)
            request = self.store.privacy_request(request_id)
            if progress is not None and request is not None:
                progress(request)
            if request is None or request.status != "pending" or stop():
                return request
            waiting = {r.destination for r in request.receipts if r.status == "pending"}
            if not waiting <= self.destinations.keys():
                # A destination this process does not hold: a router elsewhere carries it on.
                return request
            time.sleep(poll)

    def _ask(self, destination: Destination, job: PrivacyJob) -> PrivacyAnswer:
        """The tool's answer to one job; a bug in its call becomes a retry, never a crash."""
        try:
            # The request id is the same on every retry, so a tool that takes one de-duplicates.
            return destination.privacy(job.kind, job.subject, request_id=job.request_id)
        except Exception as exc:  # a bug in one tool's call must not stop the others
            self._report(destination.name, exc)
            return PrivacyAnswer("retry", f"destination error: {type(exc).__name__}")

    def _report(self, name: str, exc: Exception) -> None:
        """Log a tool's error by its type (never its text, which may quote identifiers)."""
        log.warning("trackwell privacy %s: %s", name, type(exc).__name__)
        if self.on_error is not None:
            try:
                self.on_error(name, exc)
            except Exception:
                log.exception("on_error callback failed")
