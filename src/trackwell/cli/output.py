"""Shared pieces of every command's output: JSON, errors, and the consoles."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn, cast

import typer

if TYPE_CHECKING:
    from rich.console import Console

# Unusable input (missing file, invalid plan) exits 2; a check that finds problems exits 1.
EXIT_FINDINGS = 1
EXIT_USAGE = 2
# The width of a console that is not a terminal (a pipe, a file): wide enough that a table keeps
# every value whole, since a script or a log reads it, not a person with an 80-column window.
PIPE_WIDTH = 10_000


class _LazyConsole:
    """A rich Console made on first use: importing rich costs more than `trackwell --help`
    may spend, and most commands print only after their work."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def made(self) -> Console:
        """The console itself, made now if it was not yet."""
        if self._console is None:
            from rich.console import Console

            console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
            if not console.is_terminal:
                # Not COLUMNS nor rich's 80-column default: piped output keeps whole values.
                console.width = PIPE_WIDTH
            self._console = console
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)


# Typed as Console: every attribute is the real console's once the first one is asked for.
stdout = cast("Console", _LazyConsole(stderr=False))
stderr = cast("Console", _LazyConsole(stderr=True))


def real_console(console: Console) -> Console:
    """The rich Console behind `stdout` or `stderr`, for rich objects that keep a console (a
    progress bar) rather than calling it."""
    return console.made() if isinstance(console, _LazyConsole) else console


def is_terminal(console: Console) -> bool:
    """Whether a console writes to a terminal (a person reads it) rather than a pipe or a file."""
    return real_console(console).is_terminal


def escape(text: str) -> str:
    """rich's markup escape, imported when first needed (see `_LazyConsole`)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def print_json(document: Any) -> None:
    """Write one JSON document to standard output."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print an error, one line per problem, and exit without a traceback."""
    for line in message.splitlines() or [message]:
        stderr.print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False)
    raise typer.Exit(code)
