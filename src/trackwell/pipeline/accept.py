"""accept(): normalise, check, dedup and store a batch of messages in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from trackwell.core.messages import (
    MAX_MESSAGE_BYTES,
    NUL,
    NUL_MESSAGE,
    Message,
    MessageError,
    check_limits,
    encode,
    from_json,
    normalise,
)
from trackwell.core.operations import CIO_ID_TYPE
from trackwell.core.privacy import MarkKind
from trackwell.core.violations import Verdict, Violation
from trackwell.pipeline.blocked import blocked_input
from trackwell.quality.check import check_message
from trackwell.quality.compiled import CompiledPlan, SearchBudget
from trackwell.store.base import Checked, LogWriter


@dataclass(frozen=True, slots=True)
class Accepted:
    """What became of one message: its verdict, violations, whether it was a duplicate, and
    whether it was dropped because its person was erased or is suppressed (acknowledged, not
    stored: `seq` is None)."""

    message_id: str
    verdict: Verdict
    violations: tuple[Violation, ...]
    duplicate: bool = False
    seq: int | None = None
    dropped: MarkKind | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the gateway's per-message response)."""
        return {
            "messageId": self.message_id,
            "verdict": self.verdict,
            "duplicate": self.duplicate,
            "violations": [v.to_dict() for v in self.violations],
        }


def prepare(
    plan: CompiledPlan,
    item: Message | Mapping[str, Any],
    received_at: datetime,
    *,
    backfill: bool = False,
    size: int | None = None,
    source: str = "",
    budget: SearchBudget | None = None,
) -> Checked:
    """One message normalised, checked and encoded, ready for `Store.write_batch`.

    `source` names who sent it (for the per-source numbers); by default, the sending library.
    `budget` bounds the did-you-mean searches the caller's request may cause.
    """
    if isinstance(item, Message):
        message = item
        if message.received_at is None or not message.message_id or message.timestamp is None:
            normalise(message, message.received_at or received_at)
        limits = check_limits(message)
        if limits is not None:
            violation = Violation(limits.code, limits.path, limits.message, "block")
            return Checked(
                message, "blocked", (violation,), _summary(message), source or _library(message)
            )
    else:
        try:
            message = normalise(from_json(item, size=size), received_at)
        except MessageError as exc:
            violation = Violation(exc.code, exc.path, exc.message, "block")
            return blocked_input(item, violation, received_at, source=source or "unknown")
    nul_path = _cio_id_with_nul(message)
    if nul_path is not None:
        # The Customer.io id becomes the person key of the log, like userId (see `NUL`).
        violation = Violation("malformed", nul_path, NUL_MESSAGE, "block")
        blocked_source = source or _library(message)
        return Checked(message, "blocked", (violation,), _summary(message), blocked_source)
    result = check_message(plan, message, backfill=backfill, budget=budget)
    # Named after the checked message: a sensitive library name is redacted there.
    source = source or _library(result.message or message)
    if result.message is None:  # malformed beyond repair (a Python-built message)
        return Checked(message, "blocked", tuple(result.violations), _summary(message), source)
    try:
        body = encode(result.message)
    except (TypeError, orjson.JSONEncodeError) as exc:
        # orjson refuses what JSON cannot carry exactly (integers beyond 64 bits, NaN keys...).
        unencodable = Violation(
            "malformed", "", f"a value cannot be sent as JSON ({_reason(exc)})", "block"
        )
        violations = (*result.violations, unencodable)
        return Checked(result.message, "blocked", violations, _summary(result.message), source)
    if len(body) > MAX_MESSAGE_BYTES:
        too_large = Violation(
            "too_large",
            "",
            f"message is {len(body) / 1024:.1f} KB; the limit is {MAX_MESSAGE_BYTES // 1024} KB",
            "block",
        )
        violations = (*result.violations, too_large)
        return Checked(result.message, "blocked", violations, _summary(result.message), source)
    return Checked(result.message, result.verdict, tuple(result.violations), body, source)


def accept(
    store: LogWriter,
    plan: CompiledPlan,
    items: Iterable[Message | Mapping[str, Any]],
    *,
    received_at: datetime | None = None,
    backfill: bool = False,
    source: str = "",
) -> list[Accepted]:
    """Normalise -> check -> dedup -> append -> profiles and identities, in one transaction."""
    received = received_at or datetime.now(UTC)
    checked = [prepare(plan, item, received, backfill=backfill, source=source) for item in items]
    return store_checked(store, checked)


def store_checked(store: LogWriter, checked: Sequence[Checked]) -> list[Accepted]:
    """Write prepared messages and merge the store's verdicts (duplicates, identity)."""
    written = store.write_batch(checked)
    return [
        Accepted(
            c.message.message_id,
            c.verdict,
            (*c.violations, *w.identity),
            w.duplicate,
            w.seq,
            w.dropped,
        )
        for c, w in zip(checked, written, strict=True)
    ]


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 80 else type(exc).__name__


def _library(message: Message) -> str:
    context = message.context if isinstance(message.context, dict) else {}
    library = context.get("library")
    name = library.get("name") if isinstance(library, dict) else None
    # A label for the per-source numbers, never a key: a NUL in it is replaced, not refused.
    return name[:64].replace(NUL, "\ufffd") if isinstance(name, str) and name else "unknown"


def _cio_id_with_nul(message: Message) -> str | None:
    """The path of a Customer.io id (`context.externalIds[i].id`) holding a NUL, if any."""
    entries = message.context.get("externalIds") if isinstance(message.context, dict) else None
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict) and entry.get("type") == CIO_ID_TYPE:
            value = entry.get("id")
            if isinstance(value, str) and NUL in value:
                return f"context.externalIds[{index}].id"
    return None


def _summary(message: Message) -> bytes:
    """What is kept of a message too large (or too broken) to store whole."""
    return orjson.dumps(
        {
            "type": message.type,
            "messageId": message.message_id,
            "userId": message.user_id,
            "anonymousId": message.anonymous_id,
            "event": message.event,
            "name": message.name,
            "truncated": True,
        },
        default=str,
    )
