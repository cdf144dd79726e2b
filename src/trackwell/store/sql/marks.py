"""The privacy marks checked at the edge: identifier hashes of erased and suppressed people,
cached per store object and reloaded only when the store's generation counter moves."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trackwell.core.messages import Message
from trackwell.core.privacy import MarkKind, identifier_hash, message_identifiers
from trackwell.store.sql.dialect import Conn

# Hashes remembered per identifier between batches (an HMAC costs about a microsecond and a
# busy person sends many messages); the memo is dropped whole when it grows past this.
HASH_MEMO = 100_000


@dataclass(frozen=True, slots=True)
class MarkSet:
    """One consistent reading of the marks: the generation it was read at, the pepper, and
    hash -> kind."""

    generation: int = -1
    pepper: bytes = b""
    kinds: Mapping[str, MarkKind] = field(default_factory=dict)


class Marks:
    """The marks as last read, shared by every thread of one store object."""

    def __init__(self) -> None:
        self.current = MarkSet()
        self._lock = threading.Lock()
        self._memo: dict[tuple[str, str], str] = {}

    def refresh(self, conn: Conn) -> MarkSet:
        """The marks as of `conn`'s view: one small read, and a full reload only when an erase,
        suppress or unsuppress has bumped the generation since the last one."""
        row = conn.execute("SELECT generation FROM privacy_state WHERE id = 1").fetchone()
        generation = int(row[0])
        current = self.current
        if generation == current.generation:
            return current
        pepper = bytes(conn.execute("SELECT pepper FROM privacy_state WHERE id = 1").fetchone()[0])
        kinds: dict[str, MarkKind] = {
            str(hash_): kind for hash_, kind in conn.execute("SELECT hash, kind FROM privacy_marks")
        }
        fresh = MarkSet(generation, pepper, kinds)
        with self._lock:
            if pepper != current.pepper:
                self._memo = {}
            self.current = fresh
        return fresh

    def kind_of(self, marks: MarkSet, identifiers: Iterable[tuple[str, str]]) -> MarkKind | None:
        """The mark any of these identifiers carries (`erased` over `suppressed`), or None."""
        if not marks.kinds:
            return None
        found: MarkKind | None = None
        memo = self._memo
        for key in identifiers:
            hash_ = memo.get(key)
            if hash_ is None:
                hash_ = identifier_hash(key[0], key[1], marks.pepper)
                if len(memo) >= HASH_MEMO:
                    memo = self._memo = {}
                memo[key] = hash_
            kind = marks.kinds.get(hash_)
            if kind == "erased":
                return kind
            found = found or kind
        return found


def identifiers_of(message: Message) -> Iterable[tuple[str, str]]:
    """The identifiers a parsed message names, as `core.privacy.message_identifiers` reads them
    from the wire form (built from the few fields it looks at, not the whole message)."""
    view: dict[str, Any] = {
        "userId": message.user_id,
        "anonymousId": message.anonymous_id,
        "previousId": message.previous_id,
        "context": message.context,
        "traits": message.traits,
    }
    return message_identifiers(view)
