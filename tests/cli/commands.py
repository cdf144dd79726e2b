"""Every command of the `trackwell` command line, walked from the root group, for tests that hold
a rule over all of them (help texts, options, README)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main

from trackwell.cli import app


def walk(group: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, click command) for every command and group under `group` (the root by default)."""
    root: Any = typer.main.get_command(app) if group is None else group
    for name in root.list_commands(None):
        command = root.commands[name]
        yield (*path, name), command
        if is_group(command):
            yield from walk(command, (*path, name))


def is_group(command: Any) -> bool:
    """Whether a command holds others (Typer carries its own copy of click, so no isinstance)."""
    return hasattr(command, "commands")


def leaves() -> list[tuple[tuple[str, ...], Any]]:
    """Every command that runs (not a group)."""
    return [(p, c) for p, c in walk() if not is_group(c)]


def options(command: Any) -> list[Any]:
    """A command's options (not its arguments)."""
    return [p for p in command.params if p.param_type_name == "option"]


def option_names(command: Any) -> list[str]:
    """Every long option name of a command (`--plan`, `--no-wait`), without `--help`."""
    names: list[str] = []
    for param in options(command):
        names += [n for n in (*param.opts, *param.secondary_opts) if n.startswith("--")]
    return names
