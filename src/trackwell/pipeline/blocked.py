"""Input that is not a message (unparseable, or not even an object), kept redacted as blocked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import orjson

from trackwell.core.ids import new_message_id
from trackwell.core.messages import MAX_MESSAGE_BYTES, Message
from trackwell.core.violations import Violation
from trackwell.quality.sensitive import redacted_copy
from trackwell.store.base import Checked


def blocked_input(
    raw: Any,
    violation: Violation,
    received_at: datetime,
    *,
    source: str = "",
    named: bool = True,
) -> Checked:
    """A blocked record of `raw` for the blocked table: its body redacted, `violation` its reason.

    `raw` itself is never changed: the redaction works on a copy of whatever it rewrites, at
    every depth. With `named`, the record is labelled with the type and ids `raw` claims (text
    only); otherwise it is an `unknown` with a fresh id (input in another API's shape).
    """
    data = redacted_copy(dict(raw)) if isinstance(raw, Mapping) else raw
    try:
        body = orjson.dumps(data)
    except TypeError:
        # Not JSON data (a Python object, an integer beyond 64 bits): its type, never its text,
        # which could quote what redaction would have hidden.
        body = orjson.dumps({"unreadable": type(raw).__name__})
    if len(body) > MAX_MESSAGE_BYTES:
        body = orjson.dumps({"truncated": True, "bytes": len(body)})
    claimed: Mapping[str, Any] = data if named and isinstance(data, Mapping) else {}

    def text(key: str) -> str | None:
        value = claimed.get(key)
        return value[:255] if isinstance(value, str) else None

    message = Message(
        # The blocked table keeps whatever type was claimed, even an unknown one.
        type=cast(Any, (text("type") or "unknown")[:20]),
        message_id=text("messageId") or new_message_id(),
        user_id=text("userId"),
        anonymous_id=text("anonymousId"),
        received_at=received_at,
    )
    return Checked(message, "blocked", (violation,), body, source)
