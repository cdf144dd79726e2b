"""Checks across the messages of one input: duplicate ids, and identify racing track."""

from __future__ import annotations

from trackwell.core.messages import Message
from trackwell.core.violations import CheckResult, Violation, verdict_of
from trackwell.quality.check import check_message
from trackwell.quality.compiled import CompiledPlan


class SequenceChecker:
    """Checks messages in arrival order, remembering what one input has shown so far."""

    def __init__(self, plan: CompiledPlan, *, backfill: bool = False) -> None:
        self.plan = plan
        self.backfill = backfill
        self._seen_ids: set[str] = set()
        self._identified: set[str] = set()
        self._tracked_first: set[str] = set()

    def check(self, message: Message) -> CheckResult:
        """The single-message verdict, plus duplicate_message_id and identify_after_track."""
        result = check_message(self.plan, message, backfill=self.backfill)
        extra: list[Violation] = []
        if message.message_id in self._seen_ids:
            extra.append(
                Violation(
                    "duplicate_message_id",
                    "messageId",
                    f"messageId {message.message_id!r} was already used in this input; "
                    "it would be stored once",
                    "block",
                )
            )
        else:
            self._seen_ids.add(message.message_id)
        user = message.user_id
        if user:
            if message.type == "identify":
                if user in self._tracked_first and user not in self._identified:
                    extra.append(
                        Violation(
                            "identify_after_track",
                            "type",
                            f"user {user!r} sent events before this first identify; "
                            "identify from the backend at signup, before tracking",
                        )
                    )
                self._identified.add(user)
            elif message.type != "alias" and user not in self._identified:
                self._tracked_first.add(user)
        if extra:
            result.violations.extend(extra)
            result.verdict = verdict_of(result.violations, result.verdict == "repaired")
        return result
