"""Check a whole input of events and summarise it, for `trackwell check` and CI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from trackwell.core.messages import MessageError, from_json, normalise
from trackwell.core.violations import Verdict, Violation
from trackwell.quality.compiled import CompiledPlan
from trackwell.quality.sequence import SequenceChecker


class Entry(Protocol):
    """One entry of an input as its reader hands it over (`io.eventfile.RawEvent` is one)."""

    # Read-only properties, so a frozen dataclass fits; the checks never change an entry.
    @property
    def index(self) -> int:
        """Position in the input, from 0."""

    @property
    def line(self) -> int | None:
        """1-based line in the file (None inside a JSON document)."""

    @property
    def data(self) -> Any:
        """The parsed JSON value."""

    @property
    def size(self) -> int | None:
        """Its size in bytes, for the message size limit, when known."""

    @property
    def error(self) -> str | None:
        """Why the entry could not be read (then it is blocked as `malformed`)."""


@dataclass(slots=True)
class MessageReport:
    """The verdict on one entry of the input."""

    index: int
    line: int | None
    message_id: str | None
    type: str | None
    label: str | None
    verdict: Verdict
    violations: list[Violation]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `trackwell check --json` prints per message."""
        data: dict[str, Any] = {
            "index": self.index,
            "line": self.line,
            "messageId": self.message_id,
        }
        data["type"] = self.type
        if self.type == "track":
            data["event"] = self.label
        elif self.type in ("page", "screen"):
            data["name"] = self.label
        data["verdict"] = self.verdict
        data["violations"] = [v.to_dict() for v in self.violations]
        return data


@dataclass(slots=True)
class InputReport:
    """Every message's verdict and the counts by verdict and code."""

    messages: list[MessageReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, verdict: Verdict) -> int:
        """How many messages got this verdict."""
        return sum(1 for m in self.messages if m.verdict == verdict)

    def by_code(self) -> dict[str, int]:
        """Violations counted by code, most frequent first."""
        counts = Counter(v.code for m in self.messages for v in m.violations)
        return dict(counts.most_common())

    def summary(self) -> dict[str, Any]:
        """The summary block of the JSON report."""
        return {
            "messages": len(self.messages),
            "accepted": self.count("accepted"),
            "repaired": self.count("repaired"),
            "blocked": self.count("blocked"),
            "by_code": self.by_code(),
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole JSON report."""
        data: dict[str, Any] = {"summary": self.summary()}
        if self.notes:
            data["notes"] = self.notes
        data["messages"] = [m.to_dict() for m in self.messages]
        return data


def check_events(
    plan: CompiledPlan,
    events: Iterable[Entry],
    *,
    now: datetime | None = None,
    backfill: bool = False,
) -> InputReport:
    """Parse, normalise and check each entry in order; unreadable entries are `malformed`."""
    received = now or datetime.now(UTC)
    checker = SequenceChecker(plan, backfill=backfill)
    report = InputReport()
    for raw in events:
        if raw.error is not None:
            violation = Violation("malformed", "", f"line {raw.line}: {raw.error}", "block")
            report.messages.append(
                MessageReport(raw.index, raw.line, None, None, None, "blocked", [violation])
            )
            continue
        try:
            # A file's own receivedAt (a log export) is when its events really arrived.
            message = from_json(raw.data, size=raw.size)
            normalise(message, message.received_at or received)
        except MessageError as exc:
            data = raw.data if isinstance(raw.data, dict) else {}
            report.messages.append(
                MessageReport(
                    raw.index,
                    raw.line,
                    _text(data.get("messageId")),
                    _text(data.get("type")),
                    _text(data.get("event") or data.get("name")),
                    "blocked",
                    [Violation(exc.code, exc.path, exc.message, "block")],
                )
            )
            continue
        result = checker.check(message)
        shown = result.message or message
        report.messages.append(
            MessageReport(
                raw.index,
                raw.line,
                message.message_id,
                message.type,
                shown.event if message.type == "track" else shown.name,
                result.verdict,
                result.violations,
            )
        )
    return report


def _text(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) else None
