"""Who holds a destination's queue: an owner name that says where it runs, and whether it still does.

An owner is `node:pid:nonce`. The node names this machine's process space (host name, boot and
PID namespace on Linux), so a router can tell that a lease holder was a process beside it that
has since died, and take its queue at once instead of waiting for the lease to run out. A holder
on another node, or one whose liveness cannot be told, keeps its lease until it expires.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import uuid
from pathlib import Path

from trackwell.core.process import process_alive


@functools.cache
def this_node() -> str:
    """The name of this machine's process space (the same for every process that shares PIDs)."""
    parts = [socket.gethostname().replace(":", "_")]
    # Not Linux: the host name alone, where every process of a host shares one PID space.
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text("ascii").strip()[:8])
        parts.append(str(Path("/proc/self/ns/pid").stat().st_ino))
    return "/".join(parts)


def new_owner() -> str:
    """A fresh owner name for this process."""
    return f"{this_node()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str) -> bool:
    """Whether `owner` ran in this process space and its process no longer exists.

    False whenever it cannot be sure: another node, an unreadable name, a PID in use (perhaps by
    an unrelated process that reused it, which only costs the wait for the lease).
    """
    node, _, rest = owner.partition(":")
    pid_text, _, _ = rest.partition(":")
    if node != this_node() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not process_alive(pid)
