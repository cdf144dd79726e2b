"""Whether a process of this machine is still running (leftover spill files, queue leases)."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int) -> bool:
    """Whether process `pid` may still be running: False only when it surely is not.

    A zombie (exited, not yet reaped by its parent) counts as gone: it holds nothing any more.
    A process of another user (EPERM) is alive, and so is a PID that names no single process
    (0 or negative: a process group), since nothing can be told about it. A PID may have been
    reused by an unrelated process; callers only ever wait longer because of that.
    """
    if pid <= 0:
        return True
    if _zombie(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return False  # beyond any PID the system can give
    except OSError:
        return True  # exists, but belongs to someone else (EPERM)
    return True


def _zombie(pid: int) -> bool:
    """Whether Linux reports `pid` as a zombie; False without /proc or without such a process
    (the signal in `process_alive` tells those apart)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    # The state is the field after the command name, which ends with ") ".
    return stat.split(b") ", 1)[-1][:1] == b"Z"
