"""Seeded random plans with hostile names: the output always parses, stays ruff-format clean, and
passes mypy --strict and tsc --strict. One run of each tool covers every plan."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trackwell.codegen import generate_markdown, generate_python, generate_typescript
from trackwell.plan import Plan, PlanLoadError

from ..plan.helpers import make_plan

PLANS = 60
# Keywords, names of generated things, quotes, comment and docstring closers, wide characters.
PIECES = [
    *"abcXYZ019 _-'\"\\|`*#<>é日",
    *("class", "from", "type", "track", "self", "None", "True", '"""', "*/", "-->", "Item"),
]
TYPES = ["string", "integer", "number", "boolean", "timestamp", "array", "object"]


def _name(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, longest))).strip() or "x"


def _property(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    type_ = rng.choice(TYPES if depth < 2 else TYPES[:5])
    spec: dict[str, Any] = {
        "type": type_,
        "required": rng.random() < 0.4,
        "nullable": rng.random() < 0.2,
        "description": _name(rng, 30) if rng.random() < 0.5 else "",
    }
    if type_ in ("string", "integer", "number") and rng.random() < 0.4:
        values = {"string": lambda: _name(rng, 8), "integer": lambda: rng.randint(0, 9)}
        values["number"] = lambda: rng.choice([0.5, 2])
        spec["enum"] = list(dict.fromkeys(values[type_]() for _ in range(rng.randint(1, 6))))
    if type_ == "array":
        spec["items"] = _property(rng, depth + 1)
    if type_ == "object":
        spec["properties"] = {_name(rng, 20): _property(rng, depth + 1) for _ in range(3)}
    return spec


def random_plan(seed: int) -> Plan | None:
    """A plan of random awkward names and shapes, or None when the draw does not load."""
    rng = random.Random(seed)
    events = {
        _name(rng, 40): {
            "stage": "Activation",
            "description": _name(rng, 50),
            "deprecated": rng.random() < 0.2,
            "properties": {_name(rng, 30): _property(rng) for _ in range(rng.randint(0, 4))},
        }
        for _ in range(rng.randint(0, 5))
    }
    traits = {_name(rng, 20): _property(rng) for _ in range(rng.randint(0, 3))}
    try:
        return make_plan(events, name=_name(rng, 20), traits=traits)
    except PlanLoadError:  # e.g. two random keys that are the same once stripped
        return None


@pytest.fixture(scope="module")
def plans() -> list[Plan]:
    drawn = [random_plan(seed) for seed in range(PLANS)]
    return [plan for plan in drawn if plan is not None]


def test_python_parses_is_formatted_and_type_checks(plans: list[Plan], tmp_path: Path) -> None:
    names = []
    for number, plan in enumerate(plans):
        source = generate_python(plan)
        ast.parse(source)
        names.append(f"plan_{number}.py")
        (tmp_path / names[-1]).write_text(source)
    ruff = [sys.executable, "-m", "ruff", "format", "--isolated", "--check", *names]
    result = subprocess.run(ruff, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    mypy = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy")]
    result = subprocess.run(
        [*mypy, *names], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_typescript_compiles(plans: list[Plan], npm_tools: dict[str, Path], tmp_path: Path) -> None:
    names = []
    for number, plan in enumerate(plans):
        names.append(f"plan_{number}.ts")
        (tmp_path / names[-1]).write_text(generate_typescript(plan))
    result = subprocess.run(
        [str(npm_tools["tsc"]), "--strict", "--noEmit", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_markdown_has_a_heading_per_event(plans: list[Plan]) -> None:
    for plan in plans:
        headings = [
            line for line in generate_markdown(plan).splitlines() if line.startswith("### ")
        ]
        assert len(headings) == len(plan.events)
