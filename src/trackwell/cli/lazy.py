"""Commands imported when they run: the root group knows each command by name, module and
one-line summary, and builds a command (importing its module) only when it is invoked."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """Where a command lives, and the line `trackwell --help` shows for it."""

    module: str
    attribute: str  # a command function, or a Typer app for a group of commands
    summary: str  # the first line of the command's help (a test keeps the two equal)


def build(name: str, spec: LazyCommand) -> Any:
    """The click command for `spec`, built the way `Typer.command` / `add_typer` would."""
    target = getattr(import_module(spec.module), spec.attribute)
    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
        group = typer.main.get_command(holder)
        return group.commands[name]  # type: ignore[attr-defined]
    holder.command(name)(target)
    return typer.main.get_command(holder)  # one command and no callback: the command itself


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name, each built on first access; iterating gives the names
    without building anything."""

    def __init__(self, table: dict[str, LazyCommand], built: MutableMapping[str, Any]) -> None:
        self.table = table
        self.built: dict[str, Any] = dict(built)

    def __getitem__(self, name: str) -> Any:
        if name not in self.built:
            self.built[name] = build(name, self.table[name])  # KeyError: no such command
        return self.built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self.table and name not in self.built:
            raise KeyError(name)
        self.table.pop(name, None)
        self.built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self.table
        yield from (name for name in self.built if name not in self.table)

    def __len__(self) -> int:
        return len(set(self.table) | set(self.built))

    def summary(self, name: str) -> str:
        """The command's one-line help, without importing it unless it is already built."""
        if name in self.built:
            return str(self.built[name].help or "")
        return self.table[name].summary


def lazy_group(table: dict[str, LazyCommand]) -> type[TyperGroup]:
    """A TyperGroup class whose commands are those of `table`, imported when invoked."""

    class LazyGroup(TyperGroup):
        """The root group: lists and describes commands from the table alone."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.commands = LazyCommands(dict(table), self.commands)

        def list_commands(self, ctx: Any) -> list[str]:
            return list(self.commands)

        def format_commands(self, ctx: Any, formatter: Any) -> None:
            names = self.list_commands(ctx)
            if not names:
                return
            commands = self.commands
            assert isinstance(commands, LazyCommands)
            # Shortened as click shortens a command's help, through a command that holds only it.
            limit = formatter.width - 6 - max(len(name) for name in names)
            rows = [
                (name, TyperCommand(name, help=commands.summary(name)).get_short_help_str(limit))
                for name in names
            ]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    return LazyGroup
