"""Real client libraries from the npm registry for compatibility tests, and a way to run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from .conftest import ROOT

NPM_ROOT = ROOT / ".cache" / "npm-clients"
NPM_TIMEOUT_SECONDS = 900


def npm_install(group: str, packages: Mapping[str, str]) -> Path:
    """Install `packages` ({name: version range}) into their own folder; its node_modules path.

    Each group has a folder of its own with a package.json naming exactly these packages, so a
    group's versions never change because another test installed something else."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: the client compatibility tests need Node.js and npm")
    folder = NPM_ROOT / group
    manifest = {
        "name": f"trackwell-compat-{group}",
        "private": True,
        "dependencies": dict(packages),
    }
    wanted = json.dumps(manifest, indent=2, sort_keys=True)
    package_json = folder / "package.json"
    installed = folder / "node_modules" / ".installed"
    if installed.exists() and package_json.read_text() == wanted:
        return folder / "node_modules"
    folder.mkdir(parents=True, exist_ok=True)
    package_json.write_text(wanted)
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--no-package-lock"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=NPM_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, f"npm install in {folder} failed:\n{result.stderr[-4000:]}"
    installed.write_text(wanted)
    return folder / "node_modules"


def installed_version(modules: Path, package: str) -> str:
    """The version npm installed of `package`, for reports and the README's table."""
    data = json.loads((modules / package / "package.json").read_text())
    return str(data["version"])


def run_node(
    modules: Path,
    script: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run a Node.js script (CommonJS) that can `require` the packages in `modules`."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the client compatibility tests need Node.js")
    script_path = modules.parent / "script.cjs"
    script_path.write_text(script)
    return subprocess.run(
        [node, str(script_path)],
        cwd=modules.parent,
        env={**os.environ, "NODE_PATH": str(modules), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
