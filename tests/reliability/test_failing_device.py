"""A real failing disk: ext4 on a loop device whose backing file runs out of space mid-run.

ext4 believes it has room, so writes land in the page cache and fail only when written back
to the device. With fsync at each commit the failure reaches the commit, the client gets 503,
and every message answered 200 is on disk: after the device is repaired and mounted again,
each one is in the store. (Without fsync, 200s went on after the device had failed, and the
acknowledged messages were lost.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import SERVER_KEY, harness
from trackwell.store import open_store

from .helpers import Ledger, Sequencer

pytestmark = pytest.mark.anyio

# The loop device's file system is much larger than the tmpfs that backs it: it runs out of
# backing space after a few MB of the store's writes.
BACKING_MB, DEVICE_MB = 12, 128
TOOLS = ("losetup", "mkfs.ext4", "mount", "umount", "e2fsck")


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, timeout=60)


def why_not_here() -> str | None:
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "needs root (mount, losetup)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing tools: {', '.join(missing)}"
    if not Path("/dev/loop-control").exists():
        return "no loop devices in this container (/dev/loop-control is absent)"
    return None


class FailingDevice:
    """ext4 on a loop device over a sparse file on a small tmpfs."""

    def __init__(self, root: Path) -> None:
        self.backing = root / "backing"
        self.image = self.backing / "device.img"
        self.mount = root / "ext4"
        self.device = ""

    def attach_and_mount(self) -> None:
        attached = run("losetup", "--find", "--show", str(self.image))
        if attached.returncode != 0:
            pytest.skip(f"cannot attach a loop device: {attached.stderr.strip()}")
        self.device = attached.stdout.strip()
        mounted = run("mount", "-t", "ext4", self.device, str(self.mount))
        assert mounted.returncode == 0, mounted.stderr

    def unmount_and_detach(self) -> None:
        if self.device:
            run("umount", str(self.mount))
            run("umount", "-l", str(self.mount))
            run("losetup", "-d", self.device)
            self.device = ""

    def grow_backing(self, size_mb: int) -> None:
        grown = run("mount", "-o", f"remount,size={size_mb}m", str(self.backing))
        assert grown.returncode == 0, grown.stderr


@contextlib.contextmanager
def failing_device(tmp_path: Path) -> Iterator[FailingDevice]:
    reason = why_not_here()
    if reason is not None:
        pytest.skip(reason)
    device = FailingDevice(tmp_path)
    device.backing.mkdir()
    device.mount.mkdir()
    mounted = run("mount", "-t", "tmpfs", "-o", f"size={BACKING_MB}m", "tmpfs", str(device.backing))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        with device.image.open("wb") as handle:
            handle.truncate(DEVICE_MB << 20)  # sparse: takes backing space only when written
        # Journal and inode tables written out now, so what runs out later is data space.
        made = run(
            "mkfs.ext4",
            "-q",
            "-F",
            "-E",
            "lazy_itable_init=0,lazy_journal_init=0",
            str(device.image),
        )
        assert made.returncode == 0, made.stderr
        device.attach_and_mount()
        yield device
    finally:
        device.unmount_and_detach()
        run("umount", "-l", str(device.backing))


async def test_every_200_survives_a_device_that_runs_out_of_backing_space(tmp_path: Path) -> None:
    with failing_device(tmp_path) as device:
        ledger = Ledger()
        sequencer = Sequencer("device", [f"p{i}" for i in range(20)])
        refused = 0
        reasons: set[str] = set()
        async with harness(device.mount, router=False) as h:
            for _ in range(600):
                batch = sequencer.batch(100)
                response = await h.client.post(
                    "/v1/batch", json={"batch": batch}, auth=(SERVER_KEY, "")
                )
                if response.status_code == 200:
                    ledger.add(str(m["messageId"]) for m in batch)
                    continue
                assert response.status_code == 503, response.text
                assert "nothing was stored" in response.json()["message"]
                reasons.add(response.json()["message"])
                refused += 1
                if refused >= 5:
                    break
        assert refused, "the device never ran out of backing space"
        assert all("input-output" in r or "full" in r or "read-only" in r for r in reasons), reasons
        assert len(ledger.acked) > 0

        # Repair: give the backing file room, check the file system, mount it again.
        device.unmount_and_detach()
        device.grow_backing(BACKING_MB * 4)
        checked = run("e2fsck", "-f", "-y", str(device.image))
        assert checked.returncode in (0, 1, 2), checked.stdout + checked.stderr
        device.attach_and_mount()

        db = device.mount / "gateway.db"
        store = open_store(f"sqlite:///{db}", check=True)  # a sound file, not a damaged one
        store.close()
        ledger.check_stored(db)  # every 200 is there, and nothing refused
