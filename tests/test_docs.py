"""Docs are tested: every CLI command and config key appears in README.md."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main

from trackwell.cli import app
from trackwell.io.config import KNOWN_KEYS

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def command_paths(group: Any, prefix: str = "trackwell") -> Iterator[str]:
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):  # a group (Typer's click may be vendored)
            yield from command_paths(command, path)
        else:
            yield path


def test_every_command_is_documented_in_readme() -> None:
    root = typer.main.get_command(app)
    paths = list(command_paths(root))
    assert "trackwell plan lint" in paths
    missing = [p for p in paths if f"`{p}" not in README]
    assert missing == []


def test_every_config_key_is_documented() -> None:
    missing = [key for key in KNOWN_KEYS if f"| `{key}` |" not in README]
    assert missing == []


def test_readme_starts_with_the_two_setup_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make run", "make test"]
