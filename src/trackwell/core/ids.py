"""Sortable unique ids: UUIDv7 for messages that arrive without one, and the ULID a message is
sent to Customer.io under (derived from its id, so a report naming it leads back to it)."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0
# Ids need uniqueness, not secrecy: a PRNG seeded from the OS (and reseeded after fork) is
# four times faster than os.urandom per call.
_random = random.Random(os.urandom(16))


def _after_fork_in_child() -> None:
    # A thread of the parent may have held the lock at fork time: it never releases it here.
    global _lock
    _lock = threading.Lock()
    _random.seed(os.urandom(16))


os.register_at_fork(after_in_child=_after_fork_in_child)


def new_message_id() -> str:
    """A UUIDv7 string: time-ordered to the millisecond, monotonic within this process."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            # Same millisecond (or a clock step back): count up so ids stay ordered.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        else:
            _last_ms, _counter = now_ms, 0
        counter = _counter
        rand = _random.getrandbits(62)
    value = (now_ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_VALUE = {char: index for index, char in enumerate(_CROCKFORD)}
ULID_LENGTH = 26
_MAX_MS = (1 << 48) - 1


def event_ulid(message_id: str, millis: int) -> str:
    """A ULID that is the same on every retry: 48-bit time `millis`, 80 bits hashed from the id.

    Customer.io de-duplicates events by a ULID `id` and names the event that triggered a journey
    by the same id in its reporting webhooks (`trigger_event_id`), so the store can find the
    message again: the time says where to look, the hash which message it was."""
    millis = max(0, min(millis, _MAX_MS))
    entropy = int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:10], "big")
    number = (millis << 80) | entropy
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


def ulid_millis(text: str) -> int | None:
    """The millisecond time of a ULID (its first ten characters), or None when `text` is not one."""
    if len(text) != ULID_LENGTH:
        return None
    number = 0
    for char in text.upper():
        value = _CROCKFORD_VALUE.get(char)
        if value is None:
            return None
        number = (number << 5) | value
    if number >> 128:
        return None  # the first character of a ULID is at most 7 (128 bits)
    return number >> 80
