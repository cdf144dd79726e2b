"""Set up the machine for the test suite, once, before pytest: what the tests need from the system.

`make test` runs this before pytest. As root with apt-get, it installs what is missing from
Debian's packages (Chromium for the browser tests, PostgreSQL for the PostgreSQL store), lets the
tests connect to a newly installed PostgreSQL over TCP without a password (as the project's CI
machines do), and starts the cluster when it is down. Elsewhere it changes nothing and says what
is missing: the tests that need it then skip, each with the reason.

The tests themselves never install packages or edit system configuration; they may only start a
stopped PostgreSQL cluster (`tests/postgres.py`).

    python tests/setup_machine.py            # do it
    python tests/setup_machine.py --dry-run  # only say what would be done
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
POSTGRES_ETC = Path("/etc/postgresql")
ADMIN = os.environ.get("TRACKWELL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# Trust for local connections of a cluster this script installed: the tests connect as postgres.
TRUST_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
APT_TIMEOUT_SECONDS = 900
# Wait this long for another apt/dpkg run to let go of its lock instead of failing at once.
DPKG_LOCK_WAIT_SECONDS = 300


def say(message: str) -> None:
    """One line of what was found or done, on standard error (pytest's output follows)."""
    print(f"setup-machine: {message}", file=sys.stderr, flush=True)


def can_install() -> str | None:
    """None when packages can be installed here; else why not."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("apt-get") is None:
        return "no apt-get"
    return None


def apt_install(*packages: str) -> str | None:
    """Install Debian packages (refreshing the lists when the first try fails); the error."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = f"DPkg::Lock::Timeout={DPKG_LOCK_WAIT_SECONDS}"
    install = ["apt-get", "-o", lock, "install", "-y", "--no-install-recommends", *packages]
    result = None
    for commands in ([install], [["apt-get", "-o", lock, "update"], install]):
        for command in commands:
            result = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_SECONDS
            )
        if result is not None and result.returncode == 0:
            return None
    error = result.stderr.strip() if result is not None else ""
    return error.splitlines()[-1] if error else "apt-get failed"


def postgres_reachable() -> bool:
    """Whether the test server answers at ADMIN."""
    try:
        import psycopg  # imported here, so --help and --dry-run of chromium need nothing
    except ImportError:
        return False
    try:
        with psycopg.connect(ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def start_cluster() -> str | None:
    """Start the distribution's newest cluster as the machine's docs say; the error."""
    versions = sorted(POSTGRES_ETC.iterdir()) if POSTGRES_ETC.is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        return "no cluster in /etc/postgresql"
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main", "start"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return None if result.returncode == 0 else (result.stderr.strip() or "pg_ctlcluster failed")


def chromium(dry_run: bool) -> None:
    """Debian's chromium for the browser tests (never a browser download)."""
    if CHROMIUM.exists():
        say(f"chromium: {CHROMIUM} is installed")
        return
    why = can_install()
    if why is not None:
        say(f"chromium: missing, and cannot be installed ({why}): the browser tests will skip")
    elif dry_run:
        say("chromium: missing; would run apt-get install chromium")
    else:
        error = apt_install("chromium")
        say(f"chromium: installed {CHROMIUM}" if error is None else f"chromium: {error}")


def postgres(dry_run: bool) -> None:
    """PostgreSQL for the store tests: installed, reachable without a password, running."""
    if not POSTGRES_ETC.is_dir():
        why = can_install()
        if why is not None:
            say(f"postgresql: missing, and cannot be installed ({why}): its tests will skip")
            return
        if dry_run:
            say("postgresql: missing; would install it, trust local connections and start it")
            return
        error = apt_install("postgresql")
        if error is not None or not POSTGRES_ETC.is_dir():
            say(f"postgresql: {error or 'not installed'}: its tests will skip")
            return
        # The packaged cluster asks for peer or password authentication; this one is new and
        # for the tests, which connect over TCP as postgres.
        for hba in POSTGRES_ETC.glob("*/main/pg_hba.conf"):
            hba.write_text(TRUST_HBA)
        say("postgresql: installed; local connections trusted")
    if postgres_reachable():
        say(f"postgresql: reachable at {ADMIN}")
        return
    if dry_run:
        say("postgresql: not running; would start it with pg_ctlcluster")
        return
    error = start_cluster()
    deadline = time.monotonic() + 30
    while error is None and not postgres_reachable():
        if time.monotonic() > deadline:
            error = "started, but not reachable"
            break
        time.sleep(0.5)
    say(f"postgresql: started, reachable at {ADMIN}" if error is None else f"postgresql: {error}")


def main(argv: list[str] | None = None) -> int:
    """Set up what is missing; always 0, so the tests run and skip what they cannot do."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="only say what would be done")
    args = parser.parse_args(argv)
    chromium(args.dry_run)
    postgres(args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
