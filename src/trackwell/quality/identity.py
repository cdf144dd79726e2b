"""Identity checks: a message needs a real userId or anonymousId, never a placeholder."""

from __future__ import annotations

from trackwell.core.messages import Message
from trackwell.core.operations import cio_id_of
from trackwell.core.violations import Violation

# Ids that buggy clients send for "no user"; stored as-is they would merge strangers.
PLACEHOLDER_IDS = frozenset(
    [
        "null", "undefined", "none", "nil", "nan", "0", "-1", "anonymous", "anon", "guest",
        "[object object]", "unknown", "n/a", "''", '""', "false", "true", "user", "{}", "[]",
    ]
)  # fmt: skip


def is_placeholder(value: str) -> bool:
    """Whether an id is empty, blank or a well-known placeholder."""
    stripped = value.strip()
    return not stripped or stripped.lower() in PLACEHOLDER_IDS


def check_identity(message: Message) -> list[Violation]:
    """missing_identity and invalid_identity, both of which block."""
    user_id, anonymous_id = message.user_id, message.anonymous_id
    if message.type != "alias" and (
        user_id
        and not is_placeholder(user_id)
        and (anonymous_id is None or not is_placeholder(anonymous_id))
    ):
        return []  # the common case: a real userId
    violations: list[Violation] = []
    fields = [("userId", message.user_id), ("anonymousId", message.anonymous_id)]
    if message.type == "alias":
        fields.append(("previousId", message.previous_id))
        if not message.user_id:
            violations.append(
                Violation("missing_identity", "userId", "an alias needs the new userId", "block")
            )
    elif not message.user_id and not message.anonymous_id:
        if cio_id_of(message.context) is not None:
            return []  # addressed by the person's Customer.io id (a `cio_<id>` path)
        violations.append(
            Violation(
                "missing_identity",
                "userId",
                "no userId and no anonymousId: the message cannot be tied to a person",
                "block",
            )
        )
        return violations
    for wire, value in fields:
        if value is not None and is_placeholder(value):
            violations.append(
                Violation(
                    "invalid_identity",
                    wire,
                    f"{wire} {value.strip()[:20]!r} is a placeholder; it would merge every "
                    "person who sends it into one profile",
                    "block",
                )
            )
    return violations
