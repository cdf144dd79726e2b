"""The base install is enough for the SDK: a clean virtualenv with `pip install trackwell` (no
extras) tracks, stores and reads back events, and the gateway command names the extra it needs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from .conftest import EXAMPLE_PLAN, ROOT

INSTALL_TIMEOUT = 300

SDK_SCRIPT = """
import sys
from importlib.util import find_spec

# The extras are absent: this is the base install alone.
for name in ("starlette", "uvicorn", "jinja2", "prometheus_client", "psycopg", "psycopg_pool"):
    assert find_spec(name) is None, f"{name} is installed without its extra"

import trackwell
from trackwell.store import open_store

url = "sqlite:///events.db"
client = trackwell.Client(plan=sys.argv[1], store=url)
client.identify("user-1", {"email": "ada@example.com", "created_at": 1764000000},
                anonymous_id="anon-1")
client.track("user-1", "Account Created", {"plan": "free", "signup_source": "organic"})
assert client.flush(timeout=10), "not flushed"
client.close()

store = open_store(url)
timeline = store.timeline("user-1", limit=10)
store.close()
kinds = sorted(entry.message["type"] for entry in timeline.entries)
assert kinds == ["identify", "track"], kinds
print("stored", len(timeline.entries))
"""


def clean_environment() -> dict[str, str]:
    """This process's environment without what would let the venv see the source tree."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(name, None)
    return env


def index_reachable() -> bool:
    """Whether pip can fetch packages: a local wheel directory or PyPI answering."""
    if os.environ.get("PIP_FIND_LINKS") or os.environ.get("PIP_INDEX_URL"):
        return True
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=5):
            return True
    except OSError:
        return False


def test_the_sdk_works_from_the_base_install_alone(tmp_path: Path) -> None:
    if not index_reachable():
        pytest.skip("no package index reachable: the base install cannot be built")
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    env = clean_environment()
    # This interpreter's pip installs into the new one (`--python`), so the venv needs no pip.
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    work = tmp_path / "work"
    work.mkdir()

    used = subprocess.run(
        [str(python), "-c", textwrap.dedent(SDK_SCRIPT), str(EXAMPLE_PLAN)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert used.returncode == 0, used.stderr
    assert "stored 2" in used.stdout

    trackwell = venv / "bin" / "trackwell"
    helped = subprocess.run(
        [str(trackwell), "--help"], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout

    served = subprocess.run(
        [str(trackwell), "serve", "--write-key", "tw_test_key"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 2
    assert "trackwell serve needs the server extra" in served.stderr
    assert "pip install 'trackwell[server]'" in served.stderr
    assert "Traceback" not in served.stderr
