"""Privacy requests (erase, suppress, unsuppress a person): the vocabulary the store, the
destinations, the pipeline and the faces share.

A person is named by one identifier (a user id, an anonymous id or an email trait); the store
resolves it to a `Subject`, every identifier the person is known by. What outlives an erase is
never the identifiers themselves but their `identifier_hash`: a keyed, one-way hash that the
edge (every write, the router, backfill) compares a message's own identifiers against.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

# What a request asks: remove the person everywhere; stop taking anything new for them; lift that.
RequestKind = Literal["erase", "suppress", "unsuppress"]
REQUEST_KINDS: Final = ("erase", "suppress", "unsuppress")
# A mark the store keeps per identifier hash: the person was erased (for ever) or is suppressed.
MarkKind = Literal["erased", "suppressed"]
# One destination's part of a request. `pending`: not yet answered (or being retried);
# `done`: the tool acknowledged it (for tools that delete later, the detail names its task);
# `failed`: refused for good or out of attempts, with the tool's answer; `not_supported`: the tool
# has no such call, or trackwell lacks the credentials it needs (the detail says which);
# `captured`: capture mode recorded the request and sent nothing.
JobStatus = Literal["pending", "done", "failed", "not_supported", "captured"]
JOB_STATUSES: Final = ("pending", "done", "failed", "not_supported", "captured")
SETTLED: Final = frozenset(["done", "failed", "not_supported", "captured"])

# Identifier namespaces: user and anonymous ids share one (a `previousId`, a Customer.io id in a
# path, may be either), emails another (compared lower-cased and trimmed).
ID: Final = "id"
EMAIL: Final = "email"


def normalise_email(value: str) -> str:
    """An email as compared: trimmed and lower-cased."""
    return value.strip().lower()


def identifier_hash(kind: str, value: str, pepper: bytes) -> str:
    """The keyed one-way hash of one identifier (hex HMAC-SHA256 under the store's pepper)."""
    text = normalise_email(value) if kind == EMAIL else value
    return hmac.new(pepper, f"{kind}:{text}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Subject:
    """Every identifier one person is known by, as the store resolved them."""

    user_ids: tuple[str, ...] = ()
    anonymous_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    def identifiers(self) -> Iterator[tuple[str, str]]:
        """(namespace, value) of every identifier, ids first."""
        for value in (*self.user_ids, *self.anonymous_ids):
            yield ID, value
        for value in self.emails:
            yield EMAIL, value

    def hashes(self, pepper: bytes) -> set[str]:
        """The identifier hashes the store marks."""
        return {identifier_hash(kind, value, pepper) for kind, value in self.identifiers()}

    def __len__(self) -> int:
        return len(self.user_ids) + len(self.anonymous_ids) + len(self.emails)


def message_identifiers(message: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(namespace, value) of the identifiers a wire-form message names: its user id, anonymous
    id, an alias's previous id, a Customer.io id in `context.externalIds`, and an email in its
    traits or `context.traits`."""
    for key in ("userId", "anonymousId", "previousId"):
        value = message.get(key)
        if isinstance(value, str) and value:
            yield ID, value
    context = message.get("context")
    if isinstance(context, Mapping):
        entries = context.get("externalIds")
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, Mapping):
                value = entry.get("id")
                if isinstance(value, str) and value:
                    yield ID, value
        yield from _emails(context.get("traits"))
    yield from _emails(message.get("traits"))


def _emails(traits: Any) -> Iterator[tuple[str, str]]:
    if isinstance(traits, Mapping):
        value = traits.get("email")
        if isinstance(value, str) and value.strip():
            yield EMAIL, value


@dataclass(frozen=True, slots=True)
class Receipt:
    """One destination's part of a request: its status and the tool's answer."""

    destination: str
    status: JobStatus
    attempts: int
    updated_ms: int
    detail: str | None = None  # the tool's answer (status and an excerpt), or why not supported


@dataclass(frozen=True, slots=True)
class PrivacyRequest:
    """One erase, suppress or unsuppress request and where it stands, per destination.

    The identifiers are not part of it: a request lists how many the person resolved to, and the
    rows an erase removed per table (`erased`, e.g. {"log": 12, "profiles": 1})."""

    id: str
    kind: RequestKind
    created_ms: int
    actor: str  # who asked: "cli", "key:<id>", "console", "api:<token id>"
    identifiers: int
    receipts: tuple[Receipt, ...] = ()
    erased: Mapping[str, int] = field(default_factory=dict)

    @property
    def status(self) -> Literal["pending", "failed", "done"]:
        """`pending` while any destination is, else `failed` if any failed, else `done`."""
        statuses = {receipt.status for receipt in self.receipts}
        if "pending" in statuses:
            return "pending"
        return "failed" if "failed" in statuses else "done"

    @property
    def finished_ms(self) -> int | None:
        """When the last destination settled (the creation time when there are none)."""
        if self.status == "pending":
            return None
        return max((r.updated_ms for r in self.receipts), default=self.created_ms)


@dataclass(frozen=True, slots=True)
class PrivacyJob:
    """One request's propagation to one destination, as the worker claims it: it carries the
    identifiers, which the store keeps only until the job settles."""

    request_id: str
    kind: RequestKind
    destination: str
    subject: Subject
    attempts: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin action in the audit log: who, when, what (never a payload value)."""

    id: int
    at_ms: int
    actor: str  # a key id, "console:<session>", "cli", "api:<token>"
    action: str  # "erase", "suppress", "unsuppress", "replay", "key_added", "key_revoked",
    # "key_rotated", "plan_reloaded", "console_login", "console_login_failed", "retention"
    target: str  # what it acted on: a request id, a destination, a source, a plan version
    detail: Mapping[str, Any] = field(default_factory=dict)  # counts and names, never values
