"""core.process: running, exited, zombie, and PIDs nothing can be told about."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trackwell.core.process import process_alive


def test_this_process_and_its_parent_are_alive() -> None:
    assert process_alive(os.getpid())
    assert process_alive(os.getppid())


def test_an_exited_and_reaped_process_is_gone() -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    assert not process_alive(int(proc.stdout))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are read from /proc")
def test_a_zombie_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        # Exited but not waited for: a zombie until `wait` reaps it.
        while b") Z" not in Path(f"/proc/{child.pid}/stat").read_bytes():
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        assert not process_alive(child.pid)
    finally:
        child.wait()


def test_what_names_no_single_process_counts_as_alive_or_impossible() -> None:
    assert process_alive(0) and process_alive(-1)  # process groups: nothing can be told
    assert not process_alive(2**62)  # beyond any PID
