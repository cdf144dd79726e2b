"""Sortable unique ids (UUIDv7) for messages that arrive without one."""

from __future__ import annotations

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
