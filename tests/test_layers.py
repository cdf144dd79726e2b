"""The layer map as tests: import-linter's contracts (pyproject.toml), and the floor's own rule."""

from __future__ import annotations

import graphlib
import os
import subprocess
import sys
from pathlib import Path

import grimp

import trackwell

from .conftest import ROOT

# What `trackwell.core` may import besides itself: core is the floor every stage stands on.
CORE_MAY_IMPORT = frozenset(sys.stdlib_module_names) | {"orjson"}


def test_import_contracts_hold() -> None:
    # The same command as `make test` runs, so `pytest` alone catches a broken layer; on failure
    # the message is import-linter's report: which import breaks which contract.
    source = str(Path(trackwell.__file__).resolve().parents[1])  # the trackwell under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_imports_only_the_standard_library_and_orjson() -> None:
    # The forbidden contract names each dependency; this holds for any package added later.
    graph = grimp.build_graph("trackwell", include_external_packages=True, cache_dir=None)
    core = {"trackwell.core"} | graph.find_descendants("trackwell.core")
    outside = {
        f"{module} -> {imported}"
        for module in core
        for imported in graph.find_modules_directly_imported_by(module)
        if not imported.startswith("trackwell.core") and imported not in CORE_MAY_IMPORT
    }
    assert not outside, sorted(outside)


def test_no_import_cycle_between_modules() -> None:
    # Every trackwell module with what it imports at run time, at the top or inside a function;
    # imports under TYPE_CHECKING are left out, since they never run. The layers contract sees
    # cycles between packages; this sees any cycle, including a package and its own modules.
    graph = grimp.build_graph("trackwell", exclude_type_checking_imports=True, cache_dir=None)
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    try:
        graphlib.TopologicalSorter(imports).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
