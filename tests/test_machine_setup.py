"""Setting up the machine is an explicit step before pytest, never a side effect of a test."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "tests" / "setup_machine.py"
# What only the set-up step may do: install packages, or edit the system's configuration.
MACHINE_CHANGES = re.compile(r"apt-get|dpkg|pg_hba|/etc/postgresql/[^\"']*\.conf|useradd")


def test_no_test_installs_packages_or_edits_system_configuration() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path not in (SETUP, Path(__file__).resolve())
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if MACHINE_CHANGES.search(line)
    ]
    assert offenders == [], "machine set-up belongs in tests/setup_machine.py:\n" + "\n".join(
        offenders
    )


def test_make_test_runs_the_setup_before_pytest() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\npytest:", 1)[1].split("\n\n", 1)[0]
    assert "tests/setup_machine.py && $(BIN)/pytest" in recipe


def test_the_setup_says_what_it_finds_and_never_fails_the_run() -> None:
    result = subprocess.run(
        [sys.executable, str(SETUP), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("setup-machine: chromium: ") for line in lines), lines
    assert any(line.startswith("setup-machine: postgresql: ") for line in lines), lines
