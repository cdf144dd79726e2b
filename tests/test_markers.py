"""The markers that make a fast suite: `-m "not slow and not postgres and not browser"`.

`postgres` and `browser` follow from the fixtures a test uses (tests/conftest.py), `slow` from the
folder or the module; with no `-m`, everything is selected.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# One module of each kind: both backends, Chromium, a slow folder, a plain fast module.
SAMPLE = [
    "tests/store/test_day_tables.py",
    "tests/console/test_browser.py",
    "tests/scaleout/test_multiprocess.py",
    "tests/test_messages.py",
]


# Collects SAMPLE once, in a subprocess (so this test's own session is not disturbed), and
# prints every test's id with the markers it ends up with.
_COLLECT = """
import json, sys, pytest

class Markers:
    found = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        self.found.update({i.nodeid: sorted({m.name for m in i.iter_markers()}) for i in items})

plugin = Markers()
code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *sys.argv[1:]], plugins=[plugin])
print("MARKERS" + json.dumps(plugin.found))
sys.exit(code)
"""


def collected() -> dict[str, set[str]]:
    """Each test id in SAMPLE and its markers."""
    result = subprocess.run(
        [sys.executable, "-c", _COLLECT, *SAMPLE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("MARKERS"))
    return {test: set(names) for test, names in json.loads(line[len("MARKERS") :]).items()}


def test_the_markers_are_registered() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    names = {line.split(":")[0] for line in config["markers"]}
    assert {"slow", "postgres", "browser"} <= names
    assert "--strict-markers" in config["addopts"] and "--durations=" in config["addopts"]


def test_the_fast_selection_leaves_out_postgres_browser_and_slow_tests() -> None:
    markers = collected()
    postgres = {t for t, m in markers.items() if "postgres" in m}
    browser = {t for t, m in markers.items() if "browser" in m}
    slow = {t for t, m in markers.items() if "slow" in m}
    fast = set(markers) - postgres - browser - slow
    assert {t for t in markers if "[postgresql]" in t} == {t for t in postgres if "[" in t} != set()
    assert {t for t in markers if "scaleout" in t} <= slow and postgres & slow  # by fixture too
    assert browser == {t for t in markers if t.startswith("tests/console/test_browser.py")}
    assert any(t.startswith("tests/test_messages.py") for t in fast)
    assert any("test_day_tables.py" in t and "[sqlite]" in t for t in fast)
    assert not any("[postgresql]" in t or "test_browser.py" in t or "scaleout" in t for t in fast)


def test_every_test_listed_as_slow_exists() -> None:
    """A renamed or moved test would silently lose its mark: the lists must name real ones."""
    from tests.conftest import SLOW_FOLDERS, SLOW_MODULES, SLOW_TESTS

    tests = ROOT / "tests"
    missing = [f for f in SLOW_FOLDERS if not (tests / f).is_dir()]
    missing += [m for m in SLOW_MODULES if not (tests / m).is_file()]
    for entry in SLOW_TESTS:
        module, name = entry.split("::")
        path = tests / module
        if not path.is_file() or f"def {name}(" not in path.read_text():
            missing.append(entry)
    assert missing == []
